"""Quiz question generation: the four kinds, fair distractors, blanked names, seeded and reproducible."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.glossary import Glossary
from bot.markup import EMPHASIS_END, EMPHASIS_START, emphasis
from bot.models import Concept, Kind
from bot.questions import (
    BLANK,
    Mode,
    QuestionKind,
    QuizError,
    blank_names,
    distractors,
    plan_quiz,
    stage_subsets,
)

IMMUNOSUPPRESSANTS = {"azathioprine", "cyclophosphamide", "cyclosporine", "glucocorticoid", "mycophenolate-mofetil",
                      "sirolimus", "tacrolimus"}  # fmt: skip
PROTOCOL = "kidney-disease-immunotherapy-protocol"


def test_same_seed_same_quiz_other_seed_other_quiz(glossary: Glossary) -> None:
    """A quiz is a pure function of its seed (stored with the session), and seeds vary it."""
    first = plan_quiz(glossary, mode=Mode.MIXED, category_id=None, count=10, seed=42)
    again = plan_quiz(glossary, mode=Mode.MIXED, category_id=None, count=10, seed=42)
    other = plan_quiz(glossary, mode=Mode.MIXED, category_id=None, count=10, seed=43)
    assert first == again
    assert first.questions != other.questions


def test_definition_question_blanks_the_name_and_offers_siblings(glossary: Glossary) -> None:
    """Definition → term: four names, the right one among them, distractors from the same category."""
    plan = plan_quiz(glossary, mode=Mode.DEFINITION, category_id="immunosuppressant", count=5, seed=7)
    for question in plan.questions:
        concept = glossary.concepts[question.concept_id]
        assert question.kind is QuestionKind.DEFINITION
        assert len(question.options) == 4
        assert len(set(question.options)) == 4
        assert question.options[question.correct] == concept.name
        assert set(question.options) <= {glossary.concepts[i].name for i in IMMUNOSUPPRESSANTS}
        assert all(name.casefold() not in question.prompt.casefold() for name in concept.names if len(name) > 3)
        assert question.category_id == "immunosuppressant"


def test_term_question_offers_summaries_with_their_own_names_blanked(glossary: Glossary) -> None:
    """Term → definition: four different summaries; the right one is the entry's."""
    plan = plan_quiz(glossary, mode=Mode.TERM, category_id=None, count=20, seed=3)
    for question in plan.questions:
        concept = glossary.concepts[question.concept_id]
        assert question.prompt == f"What is {emphasis(concept.name)}?"
        assert len(set(question.options)) == len(question.options) >= 2
        assert question.options[question.correct] == blank_names(concept.summary, concept.names)
        assert not question.names_are_options


def test_classification_questions_have_exactly_one_true_class(glossary: Glossary) -> None:
    """An entry's class question offers one class it is in; the wrong ones are classes of its axes it is not in."""
    plan = plan_quiz(glossary, mode=Mode.CLASSIFICATION, category_id=None, count=20, seed=11)
    by_name = {c.name: c for c in glossary.concepts.values()}
    kinds = set()
    for question in plan.questions:
        kinds.add(question.kind)
        concept = glossary.concepts[question.concept_id]
        options = [by_name[option] for option in question.options]
        if question.kind is QuestionKind.CLASSIFICATION:
            classes = set(concept.classification.values())
            assert [o.id in classes for o in options].count(True) == 1
            assert options[question.correct].id in classes
            placed_axes = set(concept.classification)
            assert all(o.axis in placed_axes for o in options)  # distractors from the same axes
        else:
            assert question.kind is QuestionKind.AXIS
            assert all(o.kind is Kind.AXIS for o in options)
            assert options[question.correct].id == concept.axis
    assert kinds == {QuestionKind.CLASSIFICATION, QuestionKind.AXIS}


def test_stage_questions_offer_orders_with_one_right(glossary: Glossary) -> None:
    """Stages in order: the right order of the listed stages and three near misses, in a menu."""
    stages = glossary.stages(PROTOCOL)
    plan = plan_quiz(glossary, mode=Mode.STAGES, category_id=None, count=20, seed=5)
    assert len(plan.questions) == len(stage_subsets(stages)) == 16
    assert "Only 16 different questions" in plan.note
    for question in plan.questions:
        assert question.uses_select
        assert len(set(question.options)) == len(question.options) == 4
        lines = question.prompt.splitlines()[1:]
        listed = dict(
            line.removeprefix(EMPHASIS_START).split(f".{EMPHASIS_END} ")
            for line in lines
            if line.startswith(EMPHASIS_START)
        )
        assert "not a clinical guideline" in question.prompt  # the clinic's regime is labelled wherever shown
        right = [listed[letter] for letter in question.options[question.correct].split(" → ")]
        assert right == [stage.name for stage in stages if stage.name in right]
        assert question.answer == " → ".join(right)


def test_mixed_quiz_has_one_ordering_question_and_distinct_subjects(glossary: Glossary) -> None:
    """Mixed mode: no entry asked twice, at most one stages question, several kinds."""
    plan = plan_quiz(glossary, mode=Mode.MIXED, category_id=None, count=20, seed=9)
    assert len(plan.questions) == 20
    kinds = [q.kind for q in plan.questions]
    assert kinds.count(QuestionKind.STAGES) == 1
    subjects = [q.concept_id for q in plan.questions if q.kind is not QuestionKind.STAGES]
    assert len(set(subjects)) == len(subjects) == 19
    assert len(set(kinds)) >= 3


def test_distractors_prefer_siblings_then_related(glossary: Glossary) -> None:
    """Siblings first; never the entry's own ancestors or descendants (too close to be fair)."""
    import random

    tacrolimus = glossary.concepts["tacrolimus"]
    picked = distractors(glossary, tacrolimus, random.Random(1))
    assert {c.id for c in picked} <= IMMUNOSUPPRESSANTS - {"tacrolimus"}
    antibody = glossary.concepts["antibody"]
    picked = distractors(glossary, antibody, random.Random(1))
    assert not {c.id for c in picked} & {"monoclonal-antibody", "polyclonal-antibody", "molecular-therapy"}
    assert all(c.parent == "molecular-therapy" for c in picked)


def test_blank_names_handles_plurals_and_word_edges() -> None:
    """Names and simple plurals are blanked as whole words only."""
    text = "Antibodies bind; an antibody is not an antibody-like antibodyish thing. MMF and MMFs."
    assert blank_names(text, ["antibody", "MMF", "a"]) == (
        f"{BLANK} bind; an {BLANK} is not an {BLANK}-like antibodyish thing. {BLANK} and {BLANK}."
    )


@pytest.mark.parametrize(
    ("mode", "category", "message"),
    [
        (Mode.STAGES, "immunosuppressant", "no protocol stages in Immunosuppressant"),
        (Mode.CLASSIFICATION, PROTOCOL, "nothing in Clinic 'immunotherapy' regime for kidney disease to classify"),
        (Mode.MIXED, "not-an-entry", "not in this server's glossary"),
    ],
)
def test_impossible_quizzes_say_what_to_change(glossary: Glossary, mode: Mode, category: str, message: str) -> None:
    """A mode the category cannot make, or an unknown category, is a QuizError with a usable message."""
    with pytest.raises(QuizError, match=message):
        plan_quiz(glossary, mode=mode, category_id=category, count=5, seed=1)


@pytest.mark.parametrize("count", [4, 21, 0])
def test_question_count_is_five_to_twenty(glossary: Glossary, count: int) -> None:
    """Outside 5–20 is refused (Discord enforces it too; the core does not rely on that)."""
    with pytest.raises(QuizError, match="5 to 20 questions"):
        plan_quiz(glossary, mode=Mode.MIXED, category_id=None, count=count, seed=1)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**48),
    mode=st.sampled_from(list(Mode)),
    category=st.sampled_from([None, "immunosuppressant", "cell-therapy", "molecular-therapy", "activity-axis"]),
)
def test_any_seed_gives_valid_questions(glossary: Glossary, seed: int, mode: Mode, category: str | None) -> None:
    """Whatever the seed: the right answer is among distinct options, and every subject is in the category."""
    try:
        plan = plan_quiz(glossary, mode=mode, category_id=category, count=10, seed=seed)
    except QuizError:
        assert mode in (Mode.STAGES, Mode.CLASSIFICATION)
        return
    allowed = set(glossary.pool([category] if category else [])) | {PROTOCOL}
    for question in plan.questions:
        assert 0 <= question.correct < len(question.options)
        assert len(set(question.options)) == len(question.options) >= (1 if question.typed else 2)
        assert question.concept_id in allowed


def _fixture_concept(concept_id: str, name: str, summary: str, **fields: object) -> Concept:
    return Concept.model_validate(
        {"id": concept_id, "name": name, "summary": summary, "definition": summary, "source": {"document": "editorial"},
         **fields}
    )  # fmt: skip


def test_no_option_is_a_name_of_the_answer_or_a_synonym_of_another(glossary: Glossary) -> None:
    """Across every seed and mode, no option of a question shares a name or alias with the answer or with another
    option, and no option is an entry the answer's summary names (C. parvum's summary names Cutibacterium acnes,
    an alias of the Propionibacterium acnes entry)."""
    for seed in range(40):
        for mode in (Mode.DEFINITION, Mode.TERM):
            for question in plan_quiz(glossary, mode=mode, category_id=None, count=20, seed=seed).questions:
                concept = glossary.concepts[question.concept_id]
                options = [c for c in glossary.concepts.values() if c.name in question.options]
                if mode is Mode.TERM:
                    options = [c for c in glossary.concepts.values()
                               if blank_names(c.summary, c.names) in question.options]  # fmt: skip
                others = [c for c in options if c.id != concept.id]
                assert len(others) == len(question.options) - 1
                for index, first in enumerate([concept, *others]):
                    for second in others[index:]:
                        assert first.id == second.id or not glossary.too_close(first, second), (first.id, second.id)
    parvum, acnes = glossary.concepts["corynebacterium-parvum"], glossary.concepts["propionibacterium"]
    assert glossary.too_close(parvum, acnes)
    assert acnes not in distractors(glossary, parvum, __import__("random").Random(1), count=40)


def test_synonyms_are_never_offered_together_in_a_controlled_glossary() -> None:
    """Made-up entries: an alias shared after normalisation, and a summary naming another entry, both keep the
    pair apart; unrelated siblings stay eligible."""
    root = _fixture_concept("root", "Root", "Root of the tree.")
    answer = _fixture_concept("answer", "Zorblamab", "An antibody, also sold as Quixil.", parent="root")
    alias_twin = _fixture_concept("twin", "Quixil preparation", "Brand preparation.", parent="root",
                                  aliases=["zorbla-mab"])  # fmt: skip
    named = _fixture_concept("named", "Quixil", "Brand name.", parent="root")
    plain_ones = [_fixture_concept(f"other{i}", f"Otherdrug {i}", f"Unrelated drug {i}.", parent="root")
                  for i in range(4)]  # fmt: skip
    glossary = Glossary([root, answer, alias_twin, named, *plain_ones])
    assert glossary.too_close(answer, alias_twin)  # "zorbla-mab" and "Zorblamab" are one name
    assert glossary.too_close(answer, named)  # the answer's summary names Quixil
    for seed in range(30):
        chosen = {c.id for c in distractors(glossary, answer, __import__("random").Random(seed))}
        assert chosen <= {f"other{i}" for i in range(4)}
        assert len(chosen) == 3


def test_stage_order_prompt_carries_the_clinic_caveat(glossary: Glossary) -> None:
    """Every ordering question, in stages and mixed quizzes, says the regime is one clinic's description."""
    for mode in (Mode.STAGES, Mode.MIXED):
        plan = plan_quiz(glossary, mode=mode, category_id=None, count=10, seed=3)
        ordering = [q for q in plan.questions if q.kind is QuestionKind.STAGES]
        assert ordering
        assert all("not a clinical guideline" in q.prompt for q in ordering)


def test_classification_quiz_never_asks_a_specific_reagent_with_a_broad_effect(glossary: Glossary) -> None:
    """Passive agents (antibodies, ATG, transferred cells) and molecular suppressants (cytokine antagonists) can be
    specific reagents with broad effects: the specificity axis is never asked about them, and when it is asked,
    the prompt says what "specific" means."""
    asked_specificity = 0
    for seed in range(30):
        plan = plan_quiz(glossary, mode=Mode.CLASSIFICATION, category_id=None, count=20, seed=seed)
        for question in plan.questions:
            if question.kind is not QuestionKind.CLASSIFICATION or question.category_id != "specificity-axis":
                continue
            asked_specificity += 1
            concept = glossary.concepts[question.concept_id]
            assert "specific reagent" in question.prompt
            classes = set(concept.classification.values())
            assert "passive-immunotherapy" not in classes, concept.id
            assert not {"immunosuppressive-therapy", "molecular-therapy"} <= classes, concept.id
    asked = {q.concept_id for seed in range(30) for q in
             plan_quiz(glossary, mode=Mode.CLASSIFICATION, category_id=None, count=20, seed=seed).questions
             if q.category_id == "specificity-axis"}  # fmt: skip
    assert not asked & {"anti-thymocyte-globulin", "monoclonal-antibody", "cytokine-antagonism-therapy"}
    assert asked_specificity  # the axis is still drilled where it is unambiguous (vaccines, BCG...)

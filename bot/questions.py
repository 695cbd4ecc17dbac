"""Quiz questions generated from a glossary view: four kinds, distractors from the same category or axis.

Generation is a pure function of the glossary, the mode, the category and a seed, so a quiz can be
reproduced exactly from its stored seed and tests can pin one down. Option texts never contain the answer's
own names (they are blanked), so a question cannot be answered by spotting a word.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.glossary import Glossary
from bot.markup import emphasis, quotation
from bot.models import Concept, Kind

OPTION_COUNT = 4
"""Options per question where the glossary has enough related entries (classification questions may have fewer)."""

MIN_QUESTIONS = 5
MAX_QUESTIONS = 20
BLANK = "▢▢▢"
STAGE_LETTERS = "ABCDEFGHIJ"
CLINIC_CAVEAT = "⚠️ One clinic's promotional description of its regime, not a clinical guideline."
"""Said with every ordering question about a protocol that comes from a clinic's own account (the kidney regime)."""

SPECIFICITY_AXIS = "specificity-axis"
SPECIFIC_CLASS = "specific-immunotherapy"
PASSIVE_CLASS = "passive-immunotherapy"
SUPPRESSIVE_CLASS = "immunosuppressive-therapy"
MOLECULAR_CLASS = "molecular-therapy"
SPECIFIC_MEANS = "On this axis “specific” means the agent itself recognises particular antigens (a specific reagent)."
"""On the specificity axis an antibody is "specific" as a reagent even when its effect is broad (ATG, IVIG,
anti-TNF, checkpoint inhibitors): questions say what the axis means and never ask about such entries."""


class QuizError(ValueError):
    """A quiz that cannot be made as asked; the message says what to change."""


class Mode(StrEnum):
    """What a quiz asks; `mixed` draws from the first three for each entry."""

    MIXED = "mixed"
    DEFINITION = "definition"
    TERM = "term"
    CLASSIFICATION = "classification"
    STAGES = "stages"
    TYPED = "typed"

    @property
    def label(self) -> str:
        """How the mode is named to users."""
        return {
            Mode.MIXED: "mixed",
            Mode.DEFINITION: "definition → term",
            Mode.TERM: "term → definition",
            Mode.CLASSIFICATION: "classification",
            Mode.STAGES: "stages in order",
            Mode.TYPED: "typed answer",
        }[self]


class QuestionKind(StrEnum):
    """The shape of one question."""

    DEFINITION = "definition"  # a summary with the name blanked: pick the term
    TERM = "term"  # a term: pick its summary
    CLASSIFICATION = "classification"  # an entry: pick the class the sources put it in
    AXIS = "axis"  # a class: pick the classification axis it belongs to
    STAGES = "stages"  # some of a protocol's stages: pick their order (a select menu)
    TYPED = "typed"  # a summary with the name blanked: type the term (judged by the resolver)


@dataclass(frozen=True)
class Question:
    """One question: what is shown, the options, which is right, and what the reveal says."""

    kind: QuestionKind
    concept_id: str
    category_id: str | None
    prompt: str
    options: tuple[str, ...]
    correct: int
    answer: str
    explanation: str

    @property
    def names_are_options(self) -> bool:
        """Whether options are short names that fit on buttons (else buttons carry letters only)."""
        return self.kind in (QuestionKind.DEFINITION, QuestionKind.CLASSIFICATION, QuestionKind.AXIS)

    @property
    def uses_select(self) -> bool:
        """Ordering questions offer their candidate orders in a select menu."""
        return self.kind is QuestionKind.STAGES

    @property
    def typed(self) -> bool:
        """Answered by typing the term (one "option": the entry's name, which is not shown)."""
        return self.kind is QuestionKind.TYPED


@dataclass(frozen=True)
class QuizPlan:
    """The questions of one quiz, and a note when fewer could be made than were asked for."""

    questions: tuple[Question, ...]
    note: str = ""


def blank_names(text: str, names: Iterable[str]) -> str:
    """Replace every occurrence of the names (and simple plurals) in `text` with a blank."""
    forms: set[str] = set()
    for name in names:
        name = name.strip()
        if len(name) < 2:
            continue
        forms.add(re.escape(name) + r"(?:e?s)?")
        if name.endswith("y"):
            forms.add(re.escape(name[:-1]) + "ies")
    if not forms:
        return text
    pattern = r"(?<!\w)(?:" + "|".join(sorted(forms, key=len, reverse=True)) + r")(?!\w)"
    return re.sub(pattern, BLANK, text, flags=re.IGNORECASE)


def category_of(concept: Concept) -> str | None:
    """The category an entry is counted under in /stats: its parent, its axis, or its protocol."""
    if concept.parent:
        return concept.parent
    if concept.axis:
        return concept.axis
    if concept.stage is not None:
        return concept.stage.protocol
    return None


def _lineage(glossary: Glossary, concept_id: str) -> set[str]:
    """The entry, its ancestors and its descendants: too close to be fair distractors for each other."""
    related = {concept_id, *(c.id for c in glossary.ancestors(concept_id))}
    frontier = [concept_id]
    while frontier:
        for child in glossary.children(frontier.pop()):
            if child.id not in related:
                related.add(child.id)
                frontier.append(child.id)
    return related


def distractors(
    glossary: Glossary, concept: Concept, rng: random.Random, count: int = OPTION_COUNT - 1
) -> list[Concept]:
    """Pick wrong answers, nearest first: siblings, then the same axis or protocol, then shared classes, then kind."""
    excluded = _lineage(glossary, concept.id)
    candidates = [c for c in glossary.concepts.values() if c.id not in excluded and c.kind is not Kind.AXIS]
    shared_classes = set(concept.classification.values())
    tiers: list[list[Concept]] = [
        [c for c in candidates if concept.parent and c.parent == concept.parent],
        [c for c in candidates if (concept.axis and c.axis == concept.axis)
         or (concept.stage and c.stage and c.stage.protocol == concept.stage.protocol)],
        [c for c in candidates if shared_classes & set(c.classification.values())],
        [c for c in candidates if c.kind is concept.kind],
        candidates,
    ]  # fmt: skip
    chosen: list[Concept] = []
    seen_names = {concept.name.casefold()}
    for tier in tiers:
        ordered = sorted(tier, key=lambda c: c.id)
        rng.shuffle(ordered)
        for candidate in ordered:
            if len(chosen) == count:
                return chosen
            if candidate.name.casefold() in seen_names:
                continue
            if any(glossary.too_close(candidate, other) for other in (concept, *chosen)):
                continue  # a name or alias of the answer, or a synonym of another option: never both offered
            seen_names.add(candidate.name.casefold())
            chosen.append(candidate)
    return chosen


def _shuffled_options(right: str, wrong: Sequence[str], rng: random.Random) -> tuple[tuple[str, ...], int]:
    options = [right, *wrong]
    rng.shuffle(options)
    return tuple(options), options.index(right)


def definition_question(glossary: Glossary, concept: Concept, rng: random.Random) -> Question | None:
    """The summary with the entry's names blanked; pick the term."""
    wrong = distractors(glossary, concept, rng)
    if not wrong:
        return None
    options, correct = _shuffled_options(concept.name, [c.name for c in wrong], rng)
    prompt = f"Which entry is this?\n\n{quotation(blank_names(concept.summary, concept.names))}"
    return Question(QuestionKind.DEFINITION, concept.id, category_of(concept), prompt, options, correct,
                    concept.name, concept.summary)  # fmt: skip


def typed_question(glossary: Glossary, concept: Concept, rng: random.Random) -> Question | None:
    """The summary with the entry's names blanked; type the term (any of its names, typos forgiven)."""
    prompt = f"Type the entry this describes:\n\n> {blank_names(concept.summary, concept.names)}"
    return Question(QuestionKind.TYPED, concept.id, category_of(concept), prompt, (concept.name,), 0,
                    concept.name, concept.summary)  # fmt: skip


def term_question(glossary: Glossary, concept: Concept, rng: random.Random) -> Question | None:
    """A term; pick its one-line summary (each summary with its own entry's names blanked)."""
    wrong = distractors(glossary, concept, rng)
    texts = {blank_names(c.summary, c.names) for c in wrong}
    right = blank_names(concept.summary, concept.names)
    wrong_texts = sorted(texts - {right})
    if not wrong_texts:
        return None
    rng.shuffle(wrong_texts)
    options, correct = _shuffled_options(right, wrong_texts, rng)
    return Question(QuestionKind.TERM, concept.id, category_of(concept), f"What is {emphasis(concept.name)}?",
                    options, correct, concept.name, concept.summary)  # fmt: skip


def classification_question(glossary: Glossary, concept: Concept, rng: random.Random) -> Question | None:
    """An entry the sources classify: pick one of its classes; the others are classes of its axes it is not in."""
    placed = {axis: klass for axis, klass in concept.classification.items() if klass in glossary and axis in glossary}
    if _reagent_not_effect(concept):
        placed.pop(SPECIFICITY_AXIS, None)
    if not placed:
        return None
    axis_id = rng.choice(sorted(placed))
    right = glossary.concepts[placed[axis_id]]
    classes_by_axis = {axis.id: classes for axis, classes in glossary.axes()}
    same_axis = [c for c in classes_by_axis.get(axis_id, []) if c.id != right.id]
    other_axes = [c for axis in sorted(placed) if axis != axis_id
                  for c in classes_by_axis.get(axis, []) if c.id != placed[axis]]  # fmt: skip
    rng.shuffle(same_axis)
    rng.shuffle(other_axes)
    wrong = [c.name for c in [*same_axis, *other_axes][: OPTION_COUNT - 1]]
    if not wrong:
        return None
    options, correct = _shuffled_options(right.name, wrong, rng)
    prompt = f"Which of these classes do the sources put {emphasis(concept.name)} in?"
    if axis_id == SPECIFICITY_AXIS:
        prompt += f"\n*{SPECIFIC_MEANS}*"
    explanation = f"{concept.name}: {right.name} ({glossary.concepts[axis_id].name.casefold()}). {right.summary}"
    return Question(QuestionKind.CLASSIFICATION, concept.id, axis_id, prompt, options, correct, right.name,
                    explanation)  # fmt: skip


def _reagent_not_effect(concept: Concept) -> bool:
    """Whether the entry's reagent and effect can differ in specificity, so that asking its class on the
    specificity axis would drill the confusion between an antigen-specific reagent and an antigen-specific effect:
    passive agents (antibodies, transferred cells: anti-thymocyte globulin binds defined antigens yet suppresses
    broadly) and molecular suppressants (anti-TNF and other cytokine antagonists)."""
    if SPECIFICITY_AXIS not in concept.classification:
        return False
    classes = set(concept.classification.values())
    return PASSIVE_CLASS in classes or (SUPPRESSIVE_CLASS in classes and MOLECULAR_CLASS in classes)


def clinic_caveat(protocol: Concept) -> str:
    """The caveat an ordering question shows when the protocol is a clinic's own description, else nothing."""
    told = " ".join((protocol.name, protocol.summary, *protocol.notes)).casefold()
    return CLINIC_CAVEAT if "clinic" in told else ""


def axis_question(glossary: Glossary, concept: Concept, rng: random.Random) -> Question | None:
    """A class: pick the classification axis it belongs to."""
    axes = [axis for axis, _ in glossary.axes()]
    right = glossary.get(concept.axis) if concept.axis else None
    if right is None or len(axes) < 2:
        return None
    wrong = [axis.name for axis in axes if axis.id != right.id]
    rng.shuffle(wrong)
    options, correct = _shuffled_options(right.name, wrong[: OPTION_COUNT - 1], rng)
    prompt = f"{emphasis(concept.name)} is a class on which classification axis?"
    return Question(QuestionKind.AXIS, concept.id, right.id, prompt, options, correct, right.name,
                    f"{concept.name}: {concept.summary}")  # fmt: skip


def stage_subsets(stages: Sequence[Concept]) -> list[tuple[Concept, ...]]:
    """Every choice of three or more of a protocol's stages, kept in protocol order: one question each."""
    return [subset for size in range(3, len(stages) + 1) for subset in itertools.combinations(stages, size)]


def stages_question(protocol: Concept, subset: Sequence[Concept], rng: random.Random) -> Question:
    """Some stages, listed shuffled with letters; pick the order (the right one and near misses) from a menu."""
    shown = list(subset)
    rng.shuffle(shown)
    letter = {stage.id: STAGE_LETTERS[i] for i, stage in enumerate(shown)}
    right = tuple(letter[stage.id] for stage in subset)
    near = [(*right[:i], right[i + 1], right[i], *right[i + 2 :]) for i in range(len(right) - 1)]
    rng.shuffle(near)
    others = [p for p in itertools.permutations(right) if p != right and p not in near]
    rng.shuffle(others)
    wrong: list[tuple[str, ...]] = []
    for order in [*near, *others]:
        if order not in wrong and len(wrong) < OPTION_COUNT - 1:
            wrong.append(order)
    options, correct = _shuffled_options(" → ".join(right), [" → ".join(w) for w in wrong], rng)
    lines = "\n".join(f"{emphasis(letter[stage.id] + '.')} {stage.name}" for stage in shown)
    caveat = clinic_caveat(protocol)
    prompt = f"Put these stages of the {protocol.name.casefold()} in order:\n{lines}" + (
        f"\n\n{caveat}" if caveat else ""
    )
    answer = " → ".join(stage.name for stage in subset)
    return Question(QuestionKind.STAGES, protocol.id, protocol.id, prompt, options, correct, answer, protocol.summary)


def _in_scope_protocols(glossary: Glossary, subjects: set[str], category_id: str | None) -> list[Concept]:
    """Protocols a quiz may ask the order of: all without a category, else those whose stages are in it."""
    return [
        protocol
        for protocol in glossary.protocols()
        if len(glossary.stages(protocol.id)) >= 3
        and (category_id is None or any(stage.id in subjects for stage in glossary.stages(protocol.id)))
    ]


_MAKERS = {
    QuestionKind.DEFINITION: definition_question,
    QuestionKind.TERM: term_question,
    QuestionKind.CLASSIFICATION: classification_question,
    QuestionKind.AXIS: axis_question,
    QuestionKind.TYPED: typed_question,
}


def _kinds_for(mode: Mode, concept: Concept) -> list[QuestionKind]:
    classification = [QuestionKind.AXIS] if concept.kind is Kind.CLASS else [QuestionKind.CLASSIFICATION]
    if mode is Mode.DEFINITION:
        return [QuestionKind.DEFINITION]
    if mode is Mode.TERM:
        return [QuestionKind.TERM]
    if mode is Mode.TYPED:
        return [QuestionKind.TYPED]
    if mode is Mode.CLASSIFICATION:
        return classification
    return [QuestionKind.DEFINITION, QuestionKind.TERM, *classification]


def plan_quiz(glossary: Glossary, *, mode: Mode, category_id: str | None, count: int, seed: int) -> QuizPlan:
    """Make up to `count` questions about different entries; raise QuizError when none can be made."""
    if not MIN_QUESTIONS <= count <= MAX_QUESTIONS:
        raise QuizError(f"A quiz has {MIN_QUESTIONS} to {MAX_QUESTIONS} questions.")
    if category_id is not None and category_id not in glossary:
        raise QuizError("That category is not in this server's glossary. Pick one from the list as you type.")
    rng = random.Random(seed)
    subjects = sorted(glossary.pool([category_id] if category_id else []))
    where = f" in {glossary.concepts[category_id].name}" if category_id else ""
    protocols = _in_scope_protocols(glossary, set(subjects), category_id)
    questions: list[Question] = []
    if mode is Mode.STAGES:
        if not protocols:
            raise QuizError(
                f"There are no protocol stages{where} to put in order. Start the stages quiz without a category."
            )
        subsets = [
            (protocol, subset) for protocol in protocols for subset in stage_subsets(glossary.stages(protocol.id))
        ]
        rng.shuffle(subsets)
        questions = [stages_question(protocol, subset, rng) for protocol, subset in subsets[:count]]
    else:
        rng.shuffle(subjects)
        wanted = count - 1 if mode is Mode.MIXED and protocols else count
        for concept_id in subjects:
            if len(questions) == wanted:
                break
            concept = glossary.concepts[concept_id]
            kinds = _kinds_for(mode, concept)
            rng.shuffle(kinds)
            question = next((q for kind in kinds if (q := _MAKERS[kind](glossary, concept, rng)) is not None), None)
            if question is not None:
                questions.append(question)
        if mode is Mode.MIXED and protocols and questions:
            protocol = rng.choice(protocols)
            ordering = stages_question(protocol, rng.choice(stage_subsets(glossary.stages(protocol.id))), rng)
            questions.insert(rng.randrange(len(questions) + 1), ordering)
    if not questions:
        about = "classify" if mode is Mode.CLASSIFICATION else "ask about"
        raise QuizError(f"There is nothing{where} to {about} in this mode. Try another category or mode.")
    note = ""
    if len(questions) < count:
        made = len(questions)
        note = f"Only {made} different questions can be made{where} in this mode, so the quiz has {made}."
    return QuizPlan(tuple(questions), note)

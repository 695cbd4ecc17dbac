"""The glossary's corrections and modern content (issue 10 §1-3): pinned so that a regression fails.

Checks the shipped data through the same Glossary and Resolver the bot uses: the modern entries exist,
are sourced to a public authority and are found the way students type them; the corrected aliases no
longer lead to the entries they used to; the clinic's regime carries its caveat wherever it is shown;
drug names are listed as clean, unambiguous examples of the entry that explains them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.glossary import Glossary, example_terms
from bot.loader import GlossaryData
from bot.models import EDITORIAL
from bot.normalise import normalise

EVAL_FILE = Path(__file__).parent / "resolver_eval_modern.yaml"
EVAL_SET: dict[str, dict[str, str | None]] = yaml.safe_load(EVAL_FILE.read_text(encoding="utf-8"))
EXAMPLE_GROUP = "example_terms"
LOOKUP_FEATURE_GROUPS = {EXAMPLE_GROUP, "question_phrasings", "example_term_typos"}
"""Groups that need the resolver to index example terms and strip question phrasing (the lookup feature); the
generic evaluation test asserts them once that lands. Here only their expected ids are checked."""
RESOLVED_CASES = [(group, str(query), expected) for group, items in EVAL_SET.items()
                  if group not in LOOKUP_FEATURE_GROUPS
                  for query, expected in items.items()]  # fmt: skip
EXAMPLE_CASES = list(EVAL_SET[EXAMPLE_GROUP].items())

MODERN_IDS = [
    "immune-checkpoint-inhibitor", "pd-1-inhibitor", "pd-l1-inhibitor", "ctla-4-inhibitor", "lag-3-inhibitor",
    "car-t-cell-therapy", "til-therapy", "tcr-t-cell-therapy", "bispecific-t-cell-engager", "interleukin-2",
    "interferon", "cancer-vaccine", "oncolytic-virus", "allergen-immunotherapy", "cytokine-release-syndrome", "icans",
    "immune-related-adverse-event", "intravenous-immunoglobulin", "anti-thymocyte-globulin", "cik-cell-therapy",
    "nk-cell-therapy", "mesenchymal-stromal-cell-therapy", "regulatory-t-cell", "nk-cell", "dendritic-cell", "adcc",
    "adjuvant", "mrna-vaccine", "autologous-and-allogeneic", "graft-versus-host-disease", "transplant-rejection",
    "autoimmune-disease", "immune-complex-glomerulonephritis", "renal-cell-carcinoma-immunotherapy",
    "adjuvant-therapy", "biologic-drug", "lipopolysaccharide", "antibody-drug-conjugate", "allergy",
]  # fmt: skip

AUTHORITY = re.compile(r"\b(FDA|EMA|EU|WHO|INN|KDIGO|NMPA|SFDA|MHLW|ASTCT|ASCO|ESMO|EAACI|EULAR|NIH|CDC|ISCT|Nobel|"
                       r"guideline|consensus|Banff|pharmacopoeia|CFR|N Engl J Med|J Exp Med|Nat Med|Nature)\b")  # fmt: skip

PROTOCOL = "kidney-disease-immunotherapy-protocol"
STAGES = ["exact-diagnosis", "immune-blocking", "immune-adjustment", "immune-clearance", "immune-protection"]


def _resolved(glossary: Glossary, query: str) -> str | None:
    match = glossary.resolver.resolve(query).match
    return match.id if match else None


def _keys(glossary: Glossary, concept_id: str) -> set[str]:
    return {normalise(name) for name in glossary.concepts[concept_id].names}


def _example_heads(example: str) -> list[str]:
    """The names an example line gives, as the resolver indexes them (the one parser, `example_terms`)."""
    return example_terms(example)


# ---------------------------------------------------------------- modern entries


@pytest.mark.parametrize("concept_id", MODERN_IDS)
def test_modern_entry_is_editorial_and_names_its_authority(glossary: Glossary, concept_id: str) -> None:
    """Each new entry exists, is marked editorial and says which public authority its facts rest on."""
    concept = glossary.concepts[concept_id]
    assert concept.source.document == EDITORIAL
    assert concept.source.editorial
    assert AUTHORITY.search(concept.source.editorial), concept.source.editorial
    assert len(concept.aliases) >= 3, "students type many forms; each entry answers to several"


def test_at_least_thirty_modern_entries(glossary: Glossary) -> None:
    """Issue 10 asks for at least 30 modern entries; all of them are in the shipped glossary."""
    assert len(set(MODERN_IDS)) >= 30
    assert [concept_id for concept_id in MODERN_IDS if concept_id not in glossary] == []


@pytest.mark.parametrize(
    ("group", "query", "expected"), RESOLVED_CASES, ids=[f"{g}:{q[:30]}" for g, q, _ in RESOLVED_CASES]
)
def test_modern_evaluation_set(glossary: Glossary, group: str, query: str, expected: str | None) -> None:
    """Each modern query resolves to its entry, and each false synonym to its true home or to nothing."""
    assert expected is None or expected in glossary, f"unknown expected id {expected}"
    resolution = glossary.resolver.resolve(query)
    assert (resolution.match.id if resolution.match else None) == expected, resolution.suggestions[:3]


def test_lookup_feature_groups_expect_shipped_entries(glossary: Glossary) -> None:
    """Every id the example and question groups expect is a shipped entry (or null)."""
    expected = {value for group in LOOKUP_FEATURE_GROUPS for value in EVAL_SET[group].values()}
    assert {value for value in expected if value is not None and value not in glossary} == set()


@pytest.mark.parametrize(("term", "concept_id"), EXAMPLE_CASES, ids=[t for t, _ in EXAMPLE_CASES])
def test_example_terms_are_listed_in_their_entry(glossary: Glossary, term: str, concept_id: str) -> None:
    """A product name the eval expects as an example appears in that entry's examples, and in no other's."""
    givers = {
        concept.id
        for concept in glossary.concepts.values()
        for example in concept.examples
        if normalise(term) in {normalise(name) for name in _example_heads(example)}
    }
    assert givers == {concept_id}


# ---------------------------------------------------------------- examples: clean, one product each


def test_examples_name_one_product_each(glossary: Glossary) -> None:
    """Examples are "name" or "name (Brand)", "name (Brand, shorthand)": no regimens, lists or descriptions the
    resolver cannot match; a brand and a shorthand in parentheses are both names the resolver indexes."""
    shape = re.compile(r"^[^():;+,]+(?: \([^():;+,]+(?:, [^():;+,]+)*\))?$")
    bad = [(c.id, e) for c in glossary.concepts.values() for e in c.examples if not shape.match(e)]
    assert bad == []
    for concept in glossary.concepts.values():
        for example in concept.examples:
            head, _, inside = example.partition(" (")
            if "," in inside and head[:1].islower():  # a brand and a shorthand: both must be found
                items = [item.strip() for item in inside.rstrip(")").split(",")]
                assert set(items) <= set(example_terms(example)), (concept.id, example)


SHARED_EXAMPLES = {"monophosphoryl lipid a", "mpl"}
"""Example names that truly belong to two entries (MPL is a detoxified lipopolysaccharide and a vaccine adjuvant):
looked up, they offer both entries rather than pick one."""


def test_example_names_lead_to_one_entry(glossary: Glossary) -> None:
    """No name is given as an example by two entries unless it is an entry's name (which then wins) or shared."""
    names = {normalise(name) for concept in glossary.concepts.values() for name in concept.names}
    givers: dict[str, set[str]] = {}
    for concept in glossary.concepts.values():
        for example in concept.examples:
            for name in _example_heads(example):
                givers.setdefault(normalise(name), set()).add(concept.id)
    shared = {key: ids for key, ids in givers.items() if len(ids) > 1 and key not in names}
    assert shared == {key: {"lipopolysaccharide", "adjuvant"} for key in SHARED_EXAMPLES}


@pytest.mark.parametrize(
    ("drug", "concept_id"),
    [
        ("prednisone", "glucocorticoid"), ("prednisolone", "glucocorticoid"),
        ("methylprednisolone", "glucocorticoid"), ("dexamethasone", "glucocorticoid"),
        ("rituximab", "monoclonal-antibody"), ("basiliximab", "monoclonal-antibody"),
        ("infliximab", "cytokine-antagonism-therapy"), ("mycophenolate sodium", "mycophenolate-mofetil"),
        ("Myfortic", "mycophenolate-mofetil"), ("pembrolizumab", "pd-1-inhibitor"), ("nivolumab", "pd-1-inhibitor"),
        ("cemiplimab", "pd-1-inhibitor"), ("atezolizumab", "pd-l1-inhibitor"), ("durvalumab", "pd-l1-inhibitor"),
        ("ipilimumab", "ctla-4-inhibitor"), ("relatlimab", "lag-3-inhibitor"), ("Keytruda", "pd-1-inhibitor"),
        ("lifileucel", "til-therapy"), ("afamitresgene autoleucel", "tcr-t-cell-therapy"),
        ("tisagenlecleucel", "car-t-cell-therapy"), ("idecabtagene vicleucel", "car-t-cell-therapy"),
        ("blinatumomab", "bispecific-t-cell-engager"), ("teclistamab", "bispecific-t-cell-engager"),
        ("tarlatamab", "bispecific-t-cell-engager"), ("tebentafusp", "bispecific-t-cell-engager"),
        ("aldesleukin", "interleukin-2"), ("sipuleucel-T", "cancer-vaccine"),
        ("talimogene laherparepvec", "oncolytic-virus"), ("H101", "oncolytic-virus"),
        ("teserpaturev", "oncolytic-virus"), ("remestemcel-L", "mesenchymal-stromal-cell-therapy"),
        ("elranatamab", "bispecific-t-cell-engager"), ("talquetamab", "bispecific-t-cell-engager"),
        ("linvoseltamab", "bispecific-t-cell-engager"), ("trastuzumab deruxtecan", "antibody-drug-conjugate"),
        ("enfortumab vedotin", "antibody-drug-conjugate"), ("omalizumab", "allergy"),
        ("voclosporin", "immunosuppressant"), ("belatacept", "immunosuppressant"),
        ("belimumab", "cytokine-antagonism-therapy"), ("obinutuzumab", "monoclonal-antibody"),
        ("Gardasil", "cancer-vaccine"), ("nogapendekin alfa inbakicept", "cytokine"),
    ],
)  # fmt: skip
def test_drugs_named_in_entries_are_examples_of_the_entry_that_explains_them(
    glossary: Glossary, drug: str, concept_id: str
) -> None:
    """Each common drug the texts mention is listed once, under the entry that explains it."""
    heads = {normalise(name) for example in glossary.concepts[concept_id].examples for name in _example_heads(example)}
    assert normalise(drug) in heads


# ---------------------------------------------------------------- the clinic's regime is labelled


@pytest.mark.parametrize("concept_id", [PROTOCOL, *STAGES])
def test_clinic_caveat_is_in_every_summary_and_definition(glossary: Glossary, concept_id: str) -> None:
    """Surfaces that show only the summary (daily post, flashcards, quiz) or the definition still show the caveat."""
    concept = glossary.concepts[concept_id]
    assert "one clinic's promotional" in concept.summary.casefold()
    assert "not a guideline" in concept.summary
    assert concept.definition.startswith("Caveat:")
    assert "not a standard" in concept.definition or "not a guideline" in concept.definition


def test_regime_name_says_what_it_is(glossary: Glossary) -> None:
    """The regime is named as a clinic's regime; its former name still finds it."""
    protocol = glossary.concepts[PROTOCOL]
    assert protocol.name == "Clinic 'immunotherapy' regime for kidney disease"
    assert _resolved(glossary, "kidney-disease immunotherapy protocol") == PROTOCOL


@pytest.mark.parametrize("phrase", ["renal immunotherapy", "kidney immunotherapy", "renal disease immunotherapy"])
def test_renal_immunotherapy_is_not_the_clinic_regime(glossary: Glossary, phrase: str) -> None:
    """In immunotherapy teaching these mean treatment of renal-cell carcinoma, not the clinic's regime."""
    assert normalise(phrase) not in _keys(glossary, PROTOCOL)
    assert _resolved(glossary, phrase) == "renal-cell-carcinoma-immunotherapy"


# ---------------------------------------------------------------- false and too-generic aliases are gone


@pytest.mark.parametrize(
    ("phrase", "old_entry"),
    [
        ("heterologous tumour vaccine", "heterogeneous-tumor-cell-vaccine"),
        ("heterologous tumor vaccine", "heterogeneous-tumor-cell-vaccine"),
        ("LPS", "typhoid-lipopolysaccharide"),
        ("lipopolysaccharide", "typhoid-lipopolysaccharide"),
        ("endotoxin", "typhoid-lipopolysaccharide"),
        ("C. parvum", "corynebacterium-parvum"),
        ("biologic therapy", "immunotherapy"),
        ("immunostimulant", "biological-response-modifier"),
        ("immune enhancer", "biological-response-modifier"),
        ("immunopotentiator", "biological-response-modifier"),
        ("immune complex clearance", "immune-clearance"),
        ("immune complex removal", "immune-clearance"),
        ("thymic peptide", "thymosin"),
        ("thymopeptide", "thymosin"),
        ("adjuvant therapy", "adjuvant"),
        ("cytokine storm", "cytokine"),
    ],
)
def test_false_aliases_no_longer_lead_to_their_old_entry(glossary: Glossary, phrase: str, old_entry: str) -> None:
    """A phrase that names something else is neither an alias of the old entry nor resolved to it."""
    assert normalise(phrase) not in _keys(glossary, old_entry)
    assert _resolved(glossary, phrase) != old_entry


# ---------------------------------------------------------------- corrections of the entry texts


def _text(glossary: Glossary, concept_id: str) -> str:
    concept = glossary.concepts[concept_id]
    return " ".join([concept.summary, concept.definition, *concept.notes, concept.source.editorial or ""])


@pytest.mark.parametrize(
    ("concept_id", "required", "forbidden"),
    [
        ("passive-immunotherapy", ["rituximab", "NK cells", "complement", "checkpoint"],
         ["It acts at once and works even when the patient's immunity is weak"]),
        ("activity-axis", ["rituximab", "checkpoint-inhibitor antibodies work only by releasing"],
         ["does not depend on the patient's immune competence"]),
        ("specific-immunotherapy", ["tumour-reactive T cells expanded from the patient's tumour", "lysate"],
         ["can only be used where a suitable antigen is known"]),
        ("specificity-axis", ["antigen-specific reagent, not an antigen-specific effect", "anti-thymocyte globulin"], []),
        ("antibody", ["antigen-specific reagent"], []),
        ("monoclonal-antibody", ["before 2022", "-tug", "-bart", "-mig", "-ment", "1986", "2010"],
         ["Their generic names end in -mab"]),
        ("typhoid-lipopolysaccharide", ["Salmonella Minnesota R595"], []),
        ("cell-vaccine", ["2010", "castration-resistant", "withdrawn in 2015"], []),
        ("dendritic-cell-vaccine", ["not a cultured dendritic-cell vaccine", "withdrawn in 2015"], []),
        ("recombinant-vector-vaccine", ["PROSTVAC", "phase 3", "2019", "live vector vaccine"], []),
        ("tumor-cell-vaccine", ["Canvaxin", "GVAX", "failed in phase 3"], []),
        ("genetically-modified-tumor-cell-vaccine", ["Lucanix", "failed"], []),
        ("radiotherapy", ["one rationale"], ["This is the reason"]),
        ("stem-cell-transplantation", ["remestemcel-L", "original adoptive"], []),
        ("thymosin", ["1966", "1970s", "different products"], []),
        ("azathioprine", ["methyl-thioinosine monophosphate", "Rac1", "NUDT15 is genotyped"],
         ["(and NUDT15) activity"]),
        ("adoptive-immune-cell-therapy", ["boxed warning", "secondary T-cell malignancies", "not FDA-approved"], []),
        ("immune-response", ["CD4+ helper", "CD8+ cytotoxic"], []),
        ("cytokine", ["largely displaced by checkpoint inhibitors"], []),
        ("cytokine-antagonism-therapy", ["Production is inhibited by"], []),
        ("glucocorticoid", ["chemically synthesized drugs", "steroid hormones"], []),
        ("immunosuppressant", ["chemically synthesized drugs", "steroid"], []),
        ("tumor-immunotherapy", ["Anti-PD-L1 antibodies bind tumour cells", "relatlimab", "bispecific T-cell"],
         ["This holds for checkpoint inhibitors"]),
        (PROTOCOL, ["SGLT2", "not immune-mediated", "renal-cell carcinoma"], []),
        ("exact-diagnosis", ["Marketing claims", "before a biopsy", "anti-PLA2R", "not immune-mediated"], []),
        ("immune-blocking", ["belimumab", "voclosporin", "tacrolimus"], []),
        ("immune-protection", ["SGLT2"], []),
    ],
)  # fmt: skip
def test_entry_text_carries_the_correction(
    glossary: Glossary, concept_id: str, required: list[str], forbidden: list[str]
) -> None:
    """Each correction of issue 10 §1 is in the entry's text, and the wrong wording is gone."""
    text = _text(glossary, concept_id)
    assert [phrase for phrase in required if phrase not in text] == []
    assert [phrase for phrase in forbidden if phrase in text] == []


@pytest.mark.parametrize(
    ("alias", "concept_id"),
    [("GC", "glucocorticoid"), ("CBT", "cord-blood-transplantation"), ("bladder cancer BCG", "bcg")],
)
def test_aliases_found_wrong_in_review_are_gone(glossary: Glossary, alias: str, concept_id: str) -> None:
    """ "GC" is the germinal centre and "CBT" cognitive behavioural therapy to most readers; an alias holding a
    disease name ("bladder cancer") would capture the disease itself."""
    assert normalise(alias) not in _keys(glossary, concept_id)


@pytest.mark.parametrize(
    ("concept_id", "required", "forbidden"),
    [
        ("pd-l1-inhibitor", ["rather than a receptor on T cells"], ["they do not bind T cells"]),
        ("adjuvant-therapy", ["nivolumab with chemotherapy before surgery for lung cancer"],
         ["pembrolizumab or nivolumab with chemotherapy"]),
        ("adoptive-immune-cell-therapy", ["January 2026"], []),
        ("immune-checkpoint-inhibitor", ["TIGIT", "failed in phase 3"], []),
        ("immune-blocking", ["obinutuzumab"], []),
        ("immunosuppressant", ["voclosporin"], []),
        ("glucocorticoid", ["germinal centre"], []),
        ("car-t-cell-therapy", ["approved in the US and EU are autologous"], []),
    ],
)  # fmt: skip
def test_review_corrections_are_in_the_text(
    glossary: Glossary, concept_id: str, required: list[str], forbidden: list[str]
) -> None:
    """The second-pass corrections stay: each required phrase is present and the wrong wording gone."""
    text = _text(glossary, concept_id)
    assert [phrase for phrase in required if phrase not in text] == []
    assert [phrase for phrase in forbidden if phrase in text] == []


def test_new_entries_are_not_drilled_on_axes_that_do_not_fit(glossary: Glossary) -> None:
    """An antibody-drug conjugate kills through its drug, and allergy is a disease: neither is placed as an
    immune-enhancing or passive immunotherapy."""
    assert glossary.concepts["antibody-drug-conjugate"].classification == {"preparation-axis": "molecular-therapy"}
    assert glossary.concepts["allergy"].classification == {}


def test_cytokine_antagonism_is_non_specific(glossary: Glossary) -> None:
    """Blocking a cytokine suppresses immunity broadly: the entry is placed on the non-specific class."""
    assert glossary.concepts["cytokine-antagonism-therapy"].classification["specificity-axis"] == (
        "non-specific-immunotherapy"
    )


def test_broad_antibody_reagents_are_not_drilled_as_specific(glossary: Glossary) -> None:
    """ATG and IVIG bind defined targets but act broadly: neither is classed as specific immunotherapy."""
    for concept_id in ("anti-thymocyte-globulin", "intravenous-immunoglobulin", "cytokine-antagonism-therapy"):
        assert glossary.concepts[concept_id].classification.get("specificity-axis") != "specific-immunotherapy"


def test_new_data_files_validate_on_their_own(shipped_data: GlossaryData) -> None:
    """The modern entries live in their own files, so a reader finds them; all of them load without problems."""
    origins = {item.concept.id: item.origin for item in shipped_data.concepts}
    assert {origins[concept_id] for concept_id in MODERN_IDS} == {"data/modern.yaml", "data/clinical.yaml"}


def test_modern_evaluation_set_has_no_duplicate_queries() -> None:
    """YAML keeps the last of two equal keys in a group silently; a duplicate would hide a case."""
    duplicates: list[object] = []

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
            keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
            duplicates.extend(key for key in set(keys) if keys.count(key) > 1)
            return super().construct_mapping(node, deep)

    yaml.load(EVAL_FILE.read_text(encoding="utf-8"), Loader=StrictLoader)
    assert duplicates == []

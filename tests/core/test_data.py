"""The shipped data: valid, complete, sourced, and correcting the seeds visibly."""

from __future__ import annotations

import pytest

from bot.glossary import Glossary
from bot.loader import GlossaryData
from bot.models import EDITORIAL, Kind

REQUIRED_IDS = [
    "immunotherapy", "immune-system", "immune-response", "immune-complex", "immune-tolerance", "tumor-immunotherapy",
    "surgery", "chemotherapy", "radiotherapy", "targeted-therapy",
    "immune-enhancement-therapy", "immunosuppressive-therapy", "specific-immunotherapy", "non-specific-immunotherapy",
    "active-immunotherapy", "passive-immunotherapy", "molecular-therapy", "cell-therapy", "immunomodulatory-therapy",
    "antibody", "polyclonal-antibody", "monoclonal-antibody", "genetically-engineered-antibody", "molecular-vaccine",
    "recombinant-vector-vaccine", "synthetic-peptide-vaccine", "dna-vaccine", "cytokine", "cytokine-antagonism-therapy",
    "cell-vaccine", "tumor-cell-vaccine", "inactivated-tumor-cell-vaccine", "heterogeneous-tumor-cell-vaccine",
    "genetically-modified-tumor-cell-vaccine", "dendritic-cell-vaccine", "stem-cell-transplantation",
    "cord-blood-transplantation", "peripheral-blood-stem-cell-transplantation", "bone-marrow-transplantation",
    "adoptive-immune-cell-therapy", "biological-response-modifier", "bcg", "corynebacterium-parvum",
    "typhoid-lipopolysaccharide", "low-virulence-streptococcus-preparation", "propionibacterium", "thymosin",
    "immunosuppressant", "glucocorticoid", "cyclophosphamide", "azathioprine", "cyclosporine", "tacrolimus",
    "sirolimus", "mycophenolate-mofetil", "kidney-disease-immunotherapy-protocol", "exact-diagnosis",
    "immune-blocking", "immune-adjustment", "immune-clearance", "immune-protection",
]  # fmt: skip


def test_every_required_concept_is_an_entry(glossary: Glossary) -> None:
    """Each concept the issue names is its own entry."""
    missing = [concept_id for concept_id in REQUIRED_IDS if concept_id not in glossary]
    assert missing == []


def test_four_axes_with_their_classes(glossary: Glossary) -> None:
    """The four classification axes each list their classes (2, 2, 2 and 3)."""
    sizes = sorted(len(classes) for _, classes in glossary.axes())
    assert sizes == [2, 2, 2, 3]


def test_kidney_protocol_stages_in_order_with_caveat(glossary: Glossary) -> None:
    """The five stages come in the document's order, and every one says it is one clinic's description."""
    stages = glossary.stages("kidney-disease-immunotherapy-protocol")
    assert [stage.id for stage in stages] == [
        "exact-diagnosis", "immune-blocking", "immune-adjustment", "immune-clearance", "immune-protection",
    ]  # fmt: skip
    for concept in [*stages, glossary.concepts["kidney-disease-immunotherapy-protocol"]]:
        assert any("clinic" in note.lower() and "guideline" in note.lower() for note in concept.notes), concept.id
    assert glossary.documents["seed-000"].caveat


@pytest.mark.parametrize(
    ("concept_id", "source_wording"),
    [
        ("corynebacterium-parvum", "Corynebacterium brevis"),
        ("mycophenolate-mofetil", "morphomecopolate"),
        ("thymosin", "thymosin, thymosin"),
        ("low-virulence-streptococcus-preparation", "low-streptococcus strains"),
    ],
)
def test_seed_errors_are_corrected_with_a_visible_note(
    glossary: Glossary, concept_id: str, source_wording: str
) -> None:
    """Each known error of the seeds is quoted in a note on the entry that corrects it."""
    notes = " ".join(glossary.concepts[concept_id].notes)
    assert source_wording.lower() in notes.lower()


def test_every_entry_cites_its_source(shipped_data: GlossaryData, glossary: Glossary) -> None:
    """Each entry names a known document and section, or is editorial and says what it adds."""
    for item in shipped_data.concepts:
        source = item.concept.source
        if source.document == EDITORIAL:
            assert source.editorial, item.concept.id
        else:
            assert source.document in glossary.documents, item.concept.id
            assert source.section, item.concept.id


def test_preparation_tree_reaches_agents(glossary: Glossary) -> None:
    """Agents sit under their preparation class, so category paths read naturally."""
    path = [c.id for c in glossary.category_path("tacrolimus")]
    assert path == ["immunotherapy", "immunomodulatory-therapy", "immunosuppressant", "tacrolimus"]
    assert {c.id for c in glossary.members("molecular-therapy")} >= {"antibody", "cytokine", "molecular-vaccine"}


def test_classes_belong_to_axes(glossary: Glossary) -> None:
    """Every class names an existing axis."""
    for concept in glossary.of_kind(Kind.CLASS):
        assert concept.axis is not None
        assert glossary.concepts[concept.axis].kind is Kind.AXIS

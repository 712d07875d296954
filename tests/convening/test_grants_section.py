"""The briefing's "Grants beside need" section: money per ward in the briefing's period, per observation divided by
each edition's own released ward count, never by a hidden one."""

from __future__ import annotations

from convening import operations as convening_ops
from convening.composer.sections import grants
from convening.models import SectionKind
from indicators.grants import importer
from tests.convening.conftest import edition, section_markdown
from webapp.extensions import db

HEADER = (
    "Identifier,Title,Description,Currency,Amount Awarded,Award Date,Recipient Org:Identifier,"
    "Recipient Org:Name,Beneficiary Location:Geographic Code,Funding Org:Identifier,Funding Org:Name"
)


def _import(cworld, rows: list[str]) -> None:
    importer.import_grants("\n".join([HEADER, *rows]).encode(), "grants.csv", cworld["partnership"], None)
    db.session.commit()


def test_without_grants_the_section_says_so(observed, make_session):
    briefing = convening_ops.compose_briefing(make_session(), observed["users"]["convenor"])
    assert "No grants in the 360Giving Data Standard have been imported" in section_markdown(
        briefing, SectionKind.GRANTS
    )


def test_the_section_divides_by_each_editions_released_ward_count(observed, make_session):
    _import(observed, [
        "B1,Food,Test,GBP,9000,2025-03-10,XI-A,A,E05010885,XI-F,Fund",  # Ashley, in the period
        "B2,Homes,Test,GBP,3000,2025-03-12,XI-B,B,E01014488,XI-F,Fund",  # an LSOA in Lawrence Hill
        "B3,City,Test,GBP,1000,2025-03-12,XI-C,C,E06000023,XI-F,Fund",  # the whole authority
        "B4,Old,Test,GBP,50000,2024-01-12,XI-D,D,E05010885,XI-F,Fund",  # before the period: left out
    ])  # fmt: skip
    briefing = convening_ops.compose_briefing(make_session(), observed["users"]["convenor"])
    ashley, lawrence = observed["areas"]["ashley"], observed["areas"]["lawrence"]
    money = briefing.facts["shared"]["grants"]["wards"]
    assert money[str(ashley.id)]["pence"] == 900_000
    assert money[str(lawrence.id)]["pence"] == 300_000
    assert briefing.facts["shared"]["grants"]["authority_pence"] == 100_000
    facts = grants.read(edition(briefing))
    assert (facts.imported, facts.per_head, facts.authority_pence) == (True, False, 100_000)
    ward = next(w for w in facts.wards if w.name == "Ashley")
    shown = edition(briefing).rel(f"ward.{ashley.id}")
    assert shown.perturbed  # Ashley's observations are shown as a number to the partnership
    assert (ward.pence, ward.grants, ward.observations.released) == (900_000, 1, shown)
    assert ward.per_observation == 900_000 / shown.value
    # The funders' edition counts only what is shared with funders (nothing here): nothing to divide by.
    funders = grants.read(edition(briefing, "funders"))
    ward = next(w for w in funders.wards if w.name == "Ashley")
    assert (ward.pence, ward.observations.value, ward.per_observation) == (900_000, 0, None)
    # The one rendering check of the section: each edition's row, the authority's money and the missing populations.
    partnership = section_markdown(briefing, SectionKind.GRANTS)
    assert f"| Ashley | £9,000 | 1 | {shown} | {importer.amount_text(900_000 / shown.value)} |" in partnership
    assert "£1,000 was for the whole local authority" in partnership
    assert "No population figures are imported" in partnership
    funders_markdown = section_markdown(briefing, SectionKind.GRANTS, "funders")
    assert "| Ashley | £9,000 | 1 | 0 | not enough observations |" in funders_markdown

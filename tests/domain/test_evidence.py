"""A grant's evidence bundle says only what whoever exports it may read: the model's designation consultation (its
rounds, how long each waited, its outcome and assessment reference, and every step's audit event) for those who read
consultations, and the evaluation findings on the model counted as their audience lets the exporter read them (never
a TLP:RED finding they are not named to, never one of another model). No thread's words and no finding's words are
in it: they are counted. A delegate's decision names both the approver and the delegate."""

from __future__ import annotations

import json

from accessdesk.domain.evidence import Evidence
from accessdesk.domain.findings import Findings
from accessdesk.domain.vocabulary import FindingSeverity, FindingState, Role
from tests.support.finding_scenes import BODY, SECRET_WORDS, THREAD_WORDS, a_bundle_scene


async def test_the_bundle_lists_the_consultation_rounds_and_their_events(world):
    grant, reopened = await a_bundle_scene(world)
    bundle = await Evidence(world.unit).bundle(world.gov_admin, grant.id)
    designation = bundle["designation"]
    assert (designation["designation"], designation["designation_ref"]) == ("covered", "ASSESS-ATLAS-7")
    first, second = designation["consultations"]
    # Round 1: the world's model designated covered at T0 in one step; round 2: reopened, two messages, decided.
    assert (first["round"], first["state"], first["outcome"], first["assessment_ref"]) == (1, "decided", "covered",
                                                                                          "ASSESS-ATLAS")  # fmt: skip
    assert (second["id"], second["round"], second["requested_side"], second["outcome"], second["messages"]) == (
        str(reopened.id), 2, "government", "covered", 2)  # fmt: skip
    assert second["requested_by"]["name"] == "Gov1 (gov1@aiso.test)"
    assert second["decided_by"]["name"] == "Gail (gail@aiso.test)"
    assert second["waited_seconds"] == 3 * 24 * 3600
    events = bundle["audit"]["events"]
    about_rounds = [e["action"] for e in events if e["subject_type"] == "consultations"]
    assert about_rounds.count("consultation.decided") == 2 and about_rounds.count("consultation.message_added") == 2
    assert "consultation.reopened" in about_rounds and "consultation.opened" in about_rounds
    designated = [e["after"]["designation"] for e in events if e["action"] == "model.designated"]
    assert designated == ["in_consultation", "covered", "in_consultation", "covered"]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert len({e["seq"] for e in events}) == len(events)  # each event once
    # The thread's words and the notes stay in the round.
    text = json.dumps(bundle)
    assert THREAD_WORDS not in text and SECRET_WORDS not in text and BODY not in text


async def test_findings_are_counted_as_the_exporter_may_read_them(world):
    grant, _ = await a_bundle_scene(world)
    government_auditor = await world.person(world.government, "audrey", [Role.AUDITOR])
    developer_auditor = await world.person(world.developer, "otto", [Role.AUDITOR])
    # Gail is named on one TLP:RED finding, not the other; the auditors on neither; the other model's is nobody's.
    for exporter, total in ((world.gov_admin, 4), (world.dev_admin, 3), (government_auditor, 3),
                            (developer_auditor, 3)):  # fmt: skip
        counted = (await Evidence(world.unit).bundle(exporter, grant.id))["findings"]
        readable = (await Findings(world.unit).findings(exporter, model_id=world.model.id)).items
        assert counted["total"] == total == len(readable), (exporter.label, counted)
        assert counted["by_state"] == {s.value: sum(r.finding.state == s.value for r in readable) for s in FindingState}
        assert counted["by_severity"] == {s.value: sum(r.finding.severity == s.value for r in readable)
                                          for s in FindingSeverity}  # fmt: skip
        assert counted["open"] == total and "counted" in counted["note"]
    gail = (await Evidence(world.unit).bundle(world.gov_admin, grant.id))["findings"]["by_severity"]
    assert gail == {"low": 1, "medium": 1, "high": 1, "critical": 1}


async def test_a_delegates_decision_names_both(world):
    grant, _ = await a_bundle_scene(world)
    bundle = await Evidence(world.unit).bundle(world.dev_admin, grant.id)
    [nomination] = bundle["nominations"]
    by_side = {d["side"]: d for d in nomination["decisions"]}
    assert by_side["developer"]["approver"]["name"] == "Dev1 (dev1@acme.test)"
    assert by_side["developer"]["decided_by"]["name"] == "Dev2 (dev2@acme.test)"
    assert by_side["developer"]["delegation_id"] is not None
    assert by_side["government"]["decided_by"] is None and by_side["government"]["delegation_id"] is None

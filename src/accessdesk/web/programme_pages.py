"""A model's programme overview in the console: the government's access, cohorts and nominations, grants by state
and why some are not usable, what the grantees still owe, credentials, and two pictures (the windows against the
planned release, the tokens issued per day) each with its numbers in a table; the findings the reader may read, by
state and severity; the designation consultation, for those who read it. The domain's read model
(domain.programme) says what there is and who may see it; this only renders it."""

from __future__ import annotations

import uuid

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from accessdesk.domain.consultations import waited_words
from accessdesk.domain.findings import state_words
from accessdesk.domain.gates import explain
from accessdesk.domain.programme import PROGRAMME, Programme
from accessdesk.domain.sessions import Signed
from accessdesk.domain.unit import Unit
from accessdesk.domain.vocabulary import GrantState, NominationState
from accessdesk.web.pages import PAGE_DEPENDENCIES, PAGE_ERRORS, page
from accessdesk.web.programme_svg import STATE_FILL, timeline_groups, timeline_svg, token_chart, tokens_svg


class ProgrammePagesController(Controller):
    path = "/console/models"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    dependencies = PAGE_DEPENDENCIES

    @get("/{model_id:uuid}/programme")
    async def programme(
        self, signed: NamedDependency[Signed], unit: NamedDependency[Unit], model_id: FromPath[uuid.UUID]
    ) -> Template:
        overview = await Programme(unit).overview(signed.actor, model_id)
        chart = token_chart(overview)
        return page("console/programme.html", signed, o=overview, whole=overview.scope == PROGRAMME,
                    grant_states=list(GrantState), nomination_states=list(NominationState), state_fill=STATE_FILL,
                    timeline=timeline_svg(overview), groups=timeline_groups(overview),
                    tokens=tokens_svg(overview), chart=chart, columns=list(zip(chart.columns, chart.grant_ids, strict=True)),
                    explain=explain, waited_words=waited_words, state_words=state_words)  # fmt: skip

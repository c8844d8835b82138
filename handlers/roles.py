"""Who is acting, and the named sets of roles that both doors (chat and API) consult.

One ``Who`` is loaded once per request or message. Capabilities ask it questions
(``who.has(MANAGERS)``, ``who.leads(team_id)``, ``who.grids``); they never query
``RoleAssignment`` themselves. The README's roles table says what each set may do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from models import sql
from models.residents import Resident, Role, RoleAssignment


@dataclass(frozen=True)
class RoleSet:
    """A named set of roles; its ``name`` is what the OpenAPI document shows."""

    name: str
    roles: frozenset[Role]
    description: str = ""
    # Beyond the roles: who else is let in (a team leader is a resident with a team).
    admits: Callable[[Who], bool] | None = None

    def __contains__(self, role: object) -> bool:
        return role in self.roles


ADMINS = RoleSet("admins", frozenset({Role.ADMIN}), "community administrators")
# Community workers (社区工作者) run the community: review and publish proposals, run
# volunteer activities, send notices.
MANAGERS = RoleSet(
    "managers", frozenset({Role.COMMUNITY_WORKER, Role.ADMIN}), "community workers and admins"
)
# Everyone who signs in to the console: managers and grid workers (网格员), who visit
# households and hand out binding codes but do not review, publish or broadcast.
CONSOLE = RoleSet(
    "console",
    frozenset({Role.GRID_WORKER, Role.COMMUNITY_WORKER, Role.ADMIN}),
    "console staff: grid workers, community workers and admins",
)
# Who works on complaint tickets: managers, the departments' handlers (承办人), and grid
# workers, who triage what the router was unsure of and the tickets of their grids.
TICKET_STAFF = RoleSet(
    "ticket_staff",
    frozenset({Role.HANDLER, Role.GRID_WORKER, Role.COMMUNITY_WORKER, Role.ADMIN}),
    "department handlers, grid workers, community workers and admins",
)
# Who runs volunteer activities: managers, and each team's leader (队长) for their team.
TEAM_LEADERS = RoleSet(
    "team_leaders",
    MANAGERS.roles,
    "community workers, admins and volunteer team leaders",
    admits=lambda who: who.leads_a_team,
)
# Who reads a vote's live tally (赞成/反对/弃权 while it is open) and the statistics built on
# it, in the proposals API and on the dashboard alike: the managers who run the vote; grid
# workers and residents see the turnout only, until the count is published.
TALLY_READERS = RoleSet(
    "tally_readers", MANAGERS.roles, "who reads open votes' live tallies: community workers, admins"
)
NAMED = {s.name: s for s in (ADMINS, MANAGERS, CONSOLE, TICKET_STAFF, TEAM_LEADERS, TALLY_READERS)}


def actor(resident: Resident) -> str:
    """How the audit log names a person."""
    return f"resident:{resident.id}"


@dataclass(frozen=True)
class Who:
    """The person acting, the hats they wear in their community, and what they lead."""

    resident: Resident
    roles: frozenset[Role] = frozenset()
    grids: frozenset[int] = frozenset()
    departments: frozenset[str] = frozenset()
    led_teams: frozenset[int] = frozenset()

    def has(self, allowed: RoleSet) -> bool:
        if self.roles & allowed.roles:
            return True
        return allowed.admits is not None and allowed.admits(self)

    @property
    def held(self) -> list[Role]:
        """The roles, each once, in ``Role`` order (what a person is shown of themselves)."""
        return [role for role in Role if role in self.roles]

    @property
    def sets(self) -> list[str]:
        """The names of the role sets held, for clients that show or hide what a set may do
        (the console asks for ``console``); the server still checks every request."""
        return [name for name, allowed in NAMED.items() if self.has(allowed)]

    @property
    def is_manager(self) -> bool:
        return self.has(MANAGERS)

    @property
    def is_admin(self) -> bool:
        return self.has(ADMINS)

    @property
    def is_console(self) -> bool:
        return self.has(CONSOLE)

    @property
    def id(self) -> int:
        return self.resident.id

    @property
    def community_id(self) -> int:
        return self.resident.community_id

    @property
    def name(self) -> str:
        return actor(self.resident)

    @property
    def leads_a_team(self) -> bool:
        """Managers, and volunteer team leaders (队长), see their activities' attendance."""
        return self.is_manager or bool(self.led_teams)

    def leads(self, team_id: int | None) -> bool:
        """Managers lead every team's activities; a team leader (队长) leads their own."""
        return self.is_manager or (team_id is not None and team_id in self.led_teams)


# Roles and led teams in one round trip: every signed-in request and many chat turns
# ask, so two queries each time were a measurable share of the API's cost.
_ROLES_AND_TEAMS = (
    "SELECT role, grid_id, department, NULL AS team_id FROM role_assignment"
    " WHERE resident_id = $1 AND community_id = $2"
    " UNION ALL SELECT NULL, NULL, NULL, id FROM volunteer_team WHERE leader_id = $3"
)


async def who_of(resident: Resident) -> Who:
    """The roles of one person in their own community, and the teams they lead."""
    rows = await sql.run(
        RoleAssignment._meta.db,
        _ROLES_AND_TEAMS,
        [resident.id, resident.community_id, resident.id],
    )
    roles = [r for r in rows if r["team_id"] is None]
    return Who(
        resident,
        roles=frozenset(Role(r["role"]) for r in roles),
        grids=frozenset(r["grid_id"] for r in roles if r["grid_id"] is not None),
        departments=frozenset(r["department"] for r in roles if r["department"]),
        led_teams=frozenset(int(r["team_id"]) for r in rows if r["team_id"] is not None),
    )


async def holders(
    community_id: int,
    allowed: RoleSet | Role,
    *,
    grid_id: int | None = None,
    department: str | None = None,
) -> list[int]:
    """Who holds a set (or one role) in a community, optionally of one grid or department:
    the people a notification about that grid's or department's work goes to."""
    roles = allowed.roles if isinstance(allowed, RoleSet) else frozenset({allowed})
    query = RoleAssignment.filter(community_id=community_id, role__in=[r.value for r in roles])
    if grid_id is not None:
        query = query.filter(grid_id=grid_id)
    if department is not None:
        query = query.filter(department=department)
    found = cast(list[int], await query.values_list("resident_id", flat=True))
    return list(dict.fromkeys(int(r) for r in found))

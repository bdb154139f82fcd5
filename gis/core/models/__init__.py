"""The schema as GeoAlchemy2 models, one module per room that owns the tables; Alembic migrations in
migrations/ create it. Importing this package registers every table on Base.metadata."""
from gis.core.models.base import NAMING, SRID, Base
from gis.core.models.basemap import PLACE_KINDS, ROAD_CLASSES, WATER_KINDS, BasePlace, BaseRoad, BaseWater
from gis.core.models.cadres import CADRE_TYPES, Cadre, Contract
from gis.core.models.cases import (
    ASSIGN_STATUSES,
    ATTACHMENT_FLAGS,
    CLOSED_EVENT_STATUSES,
    EVENT_STATUSES,
    LEVELS,
    MOVES,
    OPEN_EVENT_STATUSES,
    Attachment,
    CaseStatsDaily,
    CaseStatsMonthly,
    Category,
    Event,
    EventMove,
    WorkCalendarDay,
    WorkflowSetting,
    case_stats_dirty,
    event_is_open,
)
from gis.core.models.duties import DEPARTMENT_LEVELS, Department, Responsibility
from gis.core.models.spatial import (
    AREA_CODE_LENGTH,
    AREA_LEVELS,
    GRID_EDIT_OPS,
    GRID_KINDS,
    LINEAGE_RELATIONS,
    AdminArea,
    Building,
    Grid,
    GridEdit,
    GridLineage,
    grid_codes,
)
from gis.core.models.users import LANGS, ROLES, AuditEntry, LoginThrottle, User, UserSession, user_grids

__all__ = ["AREA_CODE_LENGTH", "AREA_LEVELS", "ASSIGN_STATUSES", "ATTACHMENT_FLAGS", "AdminArea", "Attachment",
           "AuditEntry", "Base", "BasePlace", "BaseRoad", "BaseWater", "Building", "CADRE_TYPES",
           "CLOSED_EVENT_STATUSES", "Cadre",
           "DEPARTMENT_LEVELS", "Department", "Responsibility",
           "CaseStatsDaily", "CaseStatsMonthly", "Category", "Contract",
           "EVENT_STATUSES", "Event", "EventMove", "GRID_EDIT_OPS", "GRID_KINDS", "Grid", "GridEdit", "GridLineage",
           "LANGS", "LEVELS", "LINEAGE_RELATIONS", "LoginThrottle", "MOVES", "NAMING", "OPEN_EVENT_STATUSES",
           "PLACE_KINDS", "ROAD_CLASSES", "ROLES", "SRID", "User", "UserSession", "WATER_KINDS", "WorkCalendarDay",
           "WorkflowSetting", "case_stats_dirty", "event_is_open", "grid_codes", "user_grids"]

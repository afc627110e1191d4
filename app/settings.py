"""Settings, read once from ``ATLAS_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Repository root: bundled boundaries, demo data and the OSTN15 grid live under it.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime configuration. Every field can be set as ``ATLAS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="ATLAS_", extra="ignore")

    database_url: str = "sqlite:///var/atlas.db"
    home: Path = PROJECT_ROOT
    boundaries_dir: Path = PROJECT_ROOT / "boundaries"
    data_dir: Path = PROJECT_ROOT / "data"
    ostn15_grid: Path = PROJECT_ROOT / "data" / "proj" / "uk_os_OSTN15_NTv2_OSGBtoETRS.tif"
    var_dir: Path = PROJECT_ROOT / "var"

    #: Upload cap for one incident file over HTTP (after decompression checks too).
    max_upload_mb: int = Field(default=200, ge=1)
    #: Boundary set whose latest version outlines the partnership (outside_area, distance check).
    partnership_set: str = "districts"
    #: Located rows further than this from the partnership area are implausible (0 disables).
    max_distance_km: float = Field(default=50.0, ge=0)
    #: Counts 1..(threshold-1) are suppressed in public and partner views.
    suppression_threshold: int = Field(default=5, ge=1)
    #: Secret used to sign embed tokens; generated under var/ when empty.
    secret_key: str = ""
    #: Optional XYZ basemap template for the map page (intranets often have no internet).
    basemap_url: str = ""
    basemap_attribution: str = ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()

"""Configuration: pydantic models (the single source of truth), discovery and loading of appsync.toml."""

from __future__ import annotations

import difflib
import logging
import os
import stat
import tomllib
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from structr_appsync.errors import ConfigError

logger = logging.getLogger(__name__)

CONFIG_FILE_NAME = "appsync.toml"
CONFIG_ENV_VAR = "APPSYNC_CONFIG"
DEFAULT_USER_ENV = "APPSYNC_USER"
DEFAULT_PASSWORD_ENV = "APPSYNC_PASSWORD"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timeouts(_Model):
    """How long appsync waits for Structr, in seconds."""

    connect: float = Field(10.0, gt=0, description="TCP connect timeout for every request.")
    request: float = Field(60.0, gt=0, description="Read timeout for ordinary requests (status, health, REST).")
    deploy: float = Field(
        1800.0, gt=0, description="Read timeout for a deployment export or import; Structr answers only when done."
    )
    ready: float = Field(300.0, gt=0, description="How long to wait for /structr/health/ready after an import.")


class PathTransfer(_Model):
    """Where exports and imports are staged when `transfer = "path"` (a Structr on this host or a shared volume)."""

    server_dir: str = Field(
        "/tmp/appsync-transfer",
        description="Absolute directory as Structr sees it; appsync creates a fresh subfolder per run.",
    )
    local_dir: str | None = Field(
        None, description="The same directory as appsync sees it (defaults to server_dir, i.e. the same host)."
    )

    @field_validator("server_dir")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be an absolute path: Structr refuses relative deployment paths")
        return value


class ServiceConfig(_Model):
    """One service (Structr or Neo4j) that a cold backup stops and starts."""

    unit: str | None = Field(None, description="systemd unit or docker compose service name.")
    health_url: str | None = Field(
        None, description="URL (http://...) or Bolt address (bolt://host:port) that answers when the service is up."
    )
    stop: str | None = Field(None, description="Shell command that stops the service (service_manager = command).")
    start: str | None = Field(None, description="Shell command that starts the service (service_manager = command).")
    status: str | None = Field(
        None, description="Shell command that exits 0 while the service runs (service_manager = command)."
    )
    stop_timeout: float = Field(600.0, gt=0, description="Seconds to wait for a stop (Neo4j checkpoints on stop).")
    start_timeout: float = Field(600.0, gt=0, description="Seconds to wait until the service is healthy.")


class RetentionPolicy(_Model):
    """Which backup generations `appsync backup prune` keeps (restic's semantics)."""

    keep_last: int = Field(0, ge=0, description="Keep the newest N generations.")
    keep_hourly: int = Field(0, ge=0, description="Keep the newest generation of each of the last N hours.")
    keep_daily: int = Field(7, ge=0, description="Keep the newest generation of each of the last N days.")
    keep_weekly: int = Field(4, ge=0, description="Keep the newest generation of each of the last N ISO weeks.")
    keep_monthly: int = Field(6, ge=0, description="Keep the newest generation of each of the last N months.")
    keep_yearly: int = Field(0, ge=0, description="Keep the newest generation of each of the last N years.")


class MonitoringConfig(_Model):
    """URLs pinged in the style of healthchecks.io."""

    start_url: str | None = Field(None, description="Pinged when a backup starts.")
    success_url: str | None = Field(None, description="Pinged when a backup succeeds.")
    failure_url: str | None = Field(None, description="Pinged when a backup fails (and a drill, by default).")
    drill_success_url: str | None = Field(None, description="Pinged when a restore drill passes.")
    drill_failure_url: str | None = Field(None, description="Pinged when a restore drill fails (default failure_url).")


class DrillService(_Model):
    """How a restore drill starts one scratch service. Commands are templates: {port} (this service's free port),
    {neo4j_port}, {structr_port}, {neo4j_data}, {structr_dir} and {scratch} (the drill's directory) are replaced,
    shell-quoted, before they run."""

    start: str = Field(description="Starts the scratch service detached (exit 0 once launched or once up).")
    stop: str = Field(description="Stops it and exits 0 when it is gone (also when it was not running).")
    status: str | None = Field(None, description="Exits 0 while it runs (optional).")
    health_url: str = Field(description="Answers when the scratch service is up, e.g. bolt://127.0.0.1:{port}.")
    start_timeout: float = Field(600.0, gt=0, description="Seconds to wait until healthy.")
    stop_timeout: float = Field(600.0, gt=0, description="Seconds to wait for the stop.")


class DrillConfig(_Model):
    """`[env.NAME.backup.drill]`: how `appsync backup drill` runs a scratch copy of this installation."""

    neo4j: DrillService | None = Field(None, description="Scratch Neo4j; without it the drill runs offline only.")
    structr: DrillService | None = Field(None, description="Scratch Structr; without it the drill is offline only.")
    structr_url: str = Field(
        "http://127.0.0.1:{structr_port}", description="Base URL of the scratch Structr (template, see above)."
    )
    store_check: str | None = Field(
        None,
        description="Offline Neo4j store consistency check (e.g. neo4j-admin database check), run on the scratch "
        "copy before anything starts; exit 0 means consistent. Templates as above.",
    )
    count_types: list[str] = Field(
        default_factory=lambda: ["File", "Folder", "Page", "User", "Group", "SchemaNode"],
        description="Types whose nodes the drill counts through REST on the scratch Structr.",
    )


class BoltConfig(_Model):
    """How appsync reaches Neo4j over Bolt (`[env.NAME.backup.bolt]`), for a checkpoint before the stop."""

    uri: str = Field(description="Bolt address, e.g. bolt://127.0.0.1:7687.")
    user: str | None = Field(None, description="Neo4j user; leave unset when Neo4j runs with auth disabled.")
    password_env: str | None = Field(None, description="Environment variable holding the password (NEO4J_PASSWORD).")
    password_file: str | None = Field(None, description="File holding the password; must be mode 0600.")
    checkpoint_before_stop: bool = Field(
        False,
        description="Run CALL db.checkpoint() (Neo4j Enterprise) while the services still run, so the shutdown "
        "checkpoint has less to flush. Off by default: see the README's measurement.",
    )

    @model_validator(mode="after")
    def _one_password_source(self) -> BoltConfig:
        if self.password_env and self.password_file:
            raise ValueError("set password_env or password_file, not both")
        return self


class BackupConfig(_Model):
    """Cold backups of the Neo4j data directory and the Structr directory."""

    destination: str = Field(description="Local directory that holds the backup generations.")
    neo4j_data: str = Field(description="Neo4j's data directory (the one holding databases/ and transactions/).")
    structr_dir: str = Field(description="Structr's directory: files/, structr.conf, scripts/, certificates.")
    service_manager: Literal["systemd", "compose", "command"] = Field(
        "systemd", description="How services are stopped and started."
    )
    compose_project_dir: str | None = Field(None, description="Directory of the docker compose project.")
    structr: ServiceConfig = Field(default_factory=lambda: ServiceConfig(unit="structr"))
    neo4j: ServiceConfig = Field(default_factory=lambda: ServiceConfig(unit="neo4j"))
    snapshot_command: str | None = Field(
        None,
        description="Optional command run while services are down (LVM/ZFS/btrfs snapshot) instead of copying. "
        "It must make the consistent trees appear at $APPSYNC_SNAPSHOT_DIR/neo4j and $APPSYNC_SNAPSHOT_DIR/structr.",
    )
    snapshot_release_command: str | None = Field(
        None, description="Optional command run after the snapshot was copied (unmount / destroy the snapshot)."
    )
    neo4j_conf: str | None = Field(
        None, description="Path to neo4j.conf: appsync reads it (and the logs it names) to advise; never edits it."
    )
    bolt: BoltConfig | None = Field(None, description="Bolt access to Neo4j for the pre-stop checkpoint.")
    start_attempts: int = Field(2, ge=1, le=10, description="How often a failed service start is tried.")
    prune_after_backup: bool = Field(True, description="Apply the retention policy after each successful backup.")
    retention: RetentionPolicy = Field(default_factory=RetentionPolicy)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    check_before_backup: bool = Field(
        False, description="Run the quick consistency check before every backup, as with `backup --check`."
    )
    on_inconsistent: Literal["refuse", "warn"] = Field(
        "refuse", description="What `backup --check` does when the live installation is inconsistent."
    )
    drill: DrillConfig | None = Field(None, description="How restore drills start scratch services.")


class EnvConfig(_Model):
    """One Structr instance (`[env.NAME]`)."""

    url: str = Field(description="Base URL of Structr, e.g. http://localhost:8082 (no credentials in it).")
    user: str | None = Field(None, description="Admin user name; defaults to $APPSYNC_USER, then 'admin'.")
    password_env: str | None = Field(
        None, description="Environment variable holding the password (default APPSYNC_PASSWORD)."
    )
    password_file: str | None = Field(None, description="File holding the password; must be mode 0600.")
    transfer: Literal["zip", "path"] = Field(
        "zip", description="zip: GET/POST /structr/deploy (works remotely); path: maintenance/deploy with server paths."
    )
    path_transfer: PathTransfer = Field(default_factory=PathTransfer)
    protected: bool = Field(False, description="Imports always ask; scripts need both --yes and --allow-delete.")
    timeouts: Timeouts = Field(default_factory=Timeouts)
    backup: BackupConfig | None = Field(None, description="Cold backup settings for this instance.")

    @field_validator("url")
    @classmethod
    def _plain_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if "@" in value.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError("must not contain credentials; use user and password_env or password_file")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_password_source(self) -> EnvConfig:
        if self.password_env and self.password_file:
            raise ValueError("set password_env or password_file, not both")
        return self


class NormalizeConfig(_Model):
    """What appsync rewrites in an export so that unchanged apps give no diff."""

    strip_deployment_date: bool = Field(True, description="Drop deployment-date from deployment.conf (5.x noise).")
    pin_build_stamp: bool = Field(
        True, description="Keep the committed build number/timestamp when only those changed in structr-version."
    )
    sort_grantees: bool = Field(True, description="Sort grantees lists and their allowed lists.")
    strip_schema_layouts: bool = Field(
        True, description="Drop Schema-editor layout coordinates from application-configuration-data.json."
    )


class HookConfig(_Model):
    """One git hook's behaviour."""

    enabled: bool = Field(True, description="Whether the installed hook acts.")
    env: str | None = Field(None, description="Environment the hook uses (default: default_env).")
    on_unreachable: Literal["fail", "warn"] = Field(
        "fail", description="fail: an unreachable server stops the git operation; warn: print and continue."
    )
    allow_delete: bool = Field(
        False,
        description="post-merge/post-checkout (and watch imports): may the automatic import remove pages, "
        "components, templates or schema types? Off: such an import is refused with a message.",
    )


class HooksConfig(_Model):
    """`[hooks.*]`: what each installed git hook does."""

    pre_commit: HookConfig = Field(default_factory=HookConfig, alias="pre-commit")
    pre_push: HookConfig = Field(default_factory=HookConfig, alias="pre-push")
    post_merge: HookConfig = Field(default_factory=lambda: HookConfig(enabled=False), alias="post-merge")
    post_checkout: HookConfig = Field(default_factory=lambda: HookConfig(enabled=False), alias="post-checkout")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WatchConfig(_Model):
    """`appsync watch` settings."""

    debounce_seconds: float = Field(1.0, gt=0, description="Quiet time after the last save before importing.")
    export_interval_minutes: float | None = Field(
        None, gt=0, description="If set, export and commit server changes every N minutes."
    )
    env: str | None = Field(None, description="Environment watch imports into (default: default_env); never protected.")
    allow_delete: bool = Field(
        False, description="May a watch import remove pages, components, templates or schema types?"
    )


class AppsyncConfig(_Model):
    """The whole appsync.toml."""

    export_dir: str = Field("webapp", description="Folder in the repository that holds the deployment export.")
    default_env: str | None = Field(None, description="Environment used when --env is not given.")
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)
    env: dict[str, EnvConfig] = Field(default_factory=dict, description="Named Structr instances.")
    hooks: HooksConfig = Field(default_factory=HooksConfig)
    watch: WatchConfig = Field(default_factory=WatchConfig)
    lock_timeout: float = Field(30.0, ge=0, description="Seconds to wait for another appsync process to finish.")

    @field_validator("export_dir")
    @classmethod
    def _relative_dir(cls, value: str) -> str:
        path = Path(value)
        if path.is_absolute() or ".." in path.parts or value.strip("/") in ("", "."):
            raise ValueError("must be a folder inside the repository, such as 'webapp'")
        return value.strip("/")

    @model_validator(mode="after")
    def _default_env_exists(self) -> AppsyncConfig:
        if self.default_env is not None and self.default_env not in self.env:
            raise ValueError(f"default_env {self.default_env!r} is not one of the [env.*] tables")
        return self


class LoadedConfig(BaseModel):
    """A validated configuration and where it came from."""

    model_config = ConfigDict(frozen=True)

    path: Path
    settings: AppsyncConfig

    @property
    def root(self) -> Path:
        """The directory holding appsync.toml: the repository root."""
        return self.path.parent

    @property
    def export_path(self) -> Path:
        return self.root / self.settings.export_dir

    def env_name(self, requested: str | None) -> str:
        """Return the environment to use; raise ConfigError if none can be chosen."""
        if requested:
            if requested not in self.settings.env:
                known = ", ".join(sorted(self.settings.env)) or "none"
                raise ConfigError(f"{self.path}: no [env.{requested}] table (known: {known})")
            return requested
        if self.settings.default_env:
            return self.settings.default_env
        if len(self.settings.env) == 1:
            return next(iter(self.settings.env))
        raise ConfigError(f"{self.path}: several environments and no default_env; pass --env NAME")

    def environment(self, requested: str | None) -> tuple[str, EnvConfig]:
        name = self.env_name(requested)
        return name, self.settings.env[name]


def find_config(start: Path | None = None, explicit: str | Path | None = None) -> Path:
    """Return the config file to use: --config, then $APPSYNC_CONFIG, then appsync.toml upward from start.

    Raises:
        ConfigError: if no configuration file can be found.
    """
    chosen = explicit or os.environ.get(CONFIG_ENV_VAR)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path.resolve()
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / CONFIG_FILE_NAME
        if candidate.is_file():
            logger.debug("using config %s", candidate)
            return candidate
    raise ConfigError(
        f"no {CONFIG_FILE_NAME} in {here} or any parent directory",
        hint="run `appsync init --url http://localhost:8082` or pass --config",
    )


# pydantic's wording of a failed check, said in appsync's words (the type names are pydantic's error codes).
_PLAIN_MESSAGES = {
    "missing": "this key is required",
    "string_type": "must be a string in quotes",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": "must be a table",
    "list_type": "must be a list",
}


def _known_keys(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    """Every key any table of the configuration accepts (for "did you mean")."""
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        keys.add(info.alias or name)
        for candidate in _nested_models(info.annotation):
            keys |= _known_keys(candidate, seen)
    return keys


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _nested_models(arg)]


def _plain_message(item: Any) -> str:
    if item["type"] == "extra_forbidden":
        unknown = str(item["loc"][-1]) if item["loc"] else ""
        close = difflib.get_close_matches(unknown, sorted(_known_keys(AppsyncConfig)), n=1)
        return f"unknown key (did you mean {close[0]!r}?)" if close else "unknown key"
    if item["type"] in _PLAIN_MESSAGES:
        return _PLAIN_MESSAGES[item["type"]]
    message = str(item["msg"])
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message.replace("Input should be", "must be").replace("input should be", "must be")


def _format_validation_error(path: Path, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"{key}: {_plain_message(item)}")
    return f"invalid config {path}: " + "; ".join(lines)


def parse_config(text: str, path: Path) -> AppsyncConfig:
    """Validate TOML text; raise ConfigError naming the file and the dotted key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid config {path}: not valid TOML ({exc})") from exc
    try:
        return AppsyncConfig.model_validate(raw)
    except ValidationError as exc:
        # not chained: pydantic's text quotes the input values (a URL with a password in it) and -v would print it
        raise ConfigError(_format_validation_error(path, exc)) from None


def load_config(explicit: str | Path | None = None, start: Path | None = None) -> LoadedConfig:
    """Find, read and validate the configuration.

    Raises:
        ConfigError: when the file is missing, unreadable or invalid.
    """
    path = find_config(start, explicit)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    return LoadedConfig(path=path, settings=parse_config(text, path))


def resolve_user(env: EnvConfig) -> str:
    """Return the Structr user: the configured one, else $APPSYNC_USER, else 'admin'."""
    return env.user or os.environ.get(DEFAULT_USER_ENV) or "admin"


def resolve_password(env: EnvConfig, env_name: str) -> str:
    """Read the password from the configured variable or 0600 file (never from argv).

    Raises:
        ConfigError: when the source is missing, empty, or the file is readable by others.
    """
    variable = env.password_env or DEFAULT_PASSWORD_ENV
    return read_secret(env.password_file, variable, where=f"env.{env_name}", what=f"env {env_name!r}")


def read_secret(file: str | None, variable: str, *, where: str, what: str) -> str:
    """A password from a 0600 file if one is configured, else from the environment variable ``variable``.

    Raises:
        ConfigError: when the source is missing, empty, or the file is readable by others.
    """
    if file:
        path = Path(file).expanduser()
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise ConfigError(f"{where}.password_file: cannot read {path}: {exc.strerror}") from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"{where}.password_file: {path} is readable by others (mode {stat.S_IMODE(mode):04o})",
                hint=f"run `chmod 600 {path}`",
            )
        password = path.read_text(encoding="utf-8").strip()
        if not password:
            raise ConfigError(f"{where}.password_file: {path} is empty")
        return password
    from_env = os.environ.get(variable)
    if not from_env:
        raise ConfigError(
            f"no password for {what}: set the environment variable {variable}",
            hint=(
                f"export {variable}=... in this shell; git GUI clients and IDEs do not see your shell's variables, "
                "so for the hooks put the password into a file only you can read (chmod 600) and set "
                f"{where}.password_file in appsync.toml"
            ),
        )
    return from_env

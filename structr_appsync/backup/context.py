"""Everything a backup, restore or recovery needs to know about one environment, with paths resolved."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from structr_appsync.config import AppsyncConfig, BackupConfig, LoadedConfig
from structr_appsync.errors import ConfigError

LOCK_NAME = ".appsync-backup.lock"
STATE_NAME = ".appsync-stopped.json"


@dataclass(frozen=True)
class BackupContext:
    env_name: str
    config: BackupConfig
    root: Path
    destination: Path
    neo4j_data: Path
    structr_dir: Path
    lock_timeout: float

    @property
    def lock_path(self) -> Path:
        return self.destination / LOCK_NAME

    @property
    def state_path(self) -> Path:
        return self.destination / STATE_NAME


def _resolve(root: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (root / path)


def context_for(config: BackupConfig, env_name: str, root: Path, lock_timeout: float) -> BackupContext:
    """Resolve the configured paths (relative ones against the config root)."""
    return BackupContext(
        env_name=env_name,
        config=config,
        root=root,
        destination=_resolve(root, config.destination),
        neo4j_data=_resolve(root, config.neo4j_data)
        if not config.neo4j_data.startswith("volume:")
        else Path(config.neo4j_data),
        structr_dir=_resolve(root, config.structr_dir)
        if not config.structr_dir.startswith("volume:")
        else Path(config.structr_dir),
        lock_timeout=lock_timeout,
    )


def load_context(loaded: LoadedConfig, requested_env: str | None) -> BackupContext:
    """The backup context of the chosen environment.

    Raises:
        ConfigError: if the environment has no [env.NAME.backup] table.
    """
    if requested_env is None:
        with_backup = [name for name, env in loaded.settings.env.items() if env.backup is not None]
        default = loaded.settings.env.get(loaded.settings.default_env or "")
        if len(with_backup) == 1 and (default is None or default.backup is None):
            # without --env, the backup commands mean the one installation that has a backup table
            requested_env = with_backup[0]
    name, env = loaded.environment(requested_env)
    if env.backup is None:
        raise ConfigError(
            f"{loaded.path}: env {name!r} has no [env.{name}.backup] table",
            hint="set destination, neo4j_data, structr_dir and service_manager there",
        )
    return context_for(env.backup, name, loaded.root, loaded.settings.lock_timeout)


def all_contexts(config: LoadedConfig | AppsyncConfig, root: Path | None = None) -> list[BackupContext]:
    """The backup contexts of every environment that has a backup table."""
    if isinstance(config, LoadedConfig):
        settings, base = config.settings, config.root
    else:
        settings, base = config, root or Path.cwd()
    return [
        context_for(env.backup, name, base, settings.lock_timeout)
        for name, env in settings.env.items()
        if env.backup is not None
    ]

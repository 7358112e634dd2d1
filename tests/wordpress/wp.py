"""A real WordPress for tests and benchmarks: Debian's `wordpress` package copied into a folder,
MariaDB on a free port, `php -S` with a router, the wp-bridge plugin copied in and activated.

Follows ../shared/guides/wordpress-e2e.md. Everything lives in one folder and every process is
stopped with its process group. PHP snippets run through `WordPress.php()`, a CLI script that loads
wp-load.php (there is no wp-cli here).
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import subprocess
import textwrap
import time
from pathlib import Path

from tests.processes import ROOT, free_port, wait_for

PLUGIN_SRC = ROOT / "wp-bridge"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
WORDPRESS_SRC = Path("/usr/share/wordpress")
PACKAGES = ("php", "mariadbd", "mariadb-install-db", "phpunit")
ADMIN_USER, ADMIN_PASSWORD = "admin", "correct-horse-battery-staple"


#: Test-only mu-plugins: Easy Appointments 3.12.23 as observed (inert until installed by a test).
MU_PLUGINS = ("easy-appointments-3.12.23.php",)
#: Debian's package ships no theme: front-end pages (a shortcode in a post) need this one.
THEME = "meetbridge-test-theme"


def copy_wordpress(source: Path, target: Path) -> None:
    """Copy Debian's WordPress with its symlinks resolved (the guide's `cp -rL`). Debian links bundled
    libraries (underscore.js, getID3, …) relatively into /usr/share/javascript and /usr/share/php;
    copytree's dangling-link check resolves a relative link against the working directory, so it
    silently left them out, and every page needing underscore.js broke."""
    subprocess.run(["cp", "-rL", str(source), str(target)], check=True, capture_output=True)


def missing_packages() -> list[str]:
    """What of WordPress, PHP, MariaDB and PHPUnit is not installed."""
    missing = [
        name for name in PACKAGES if shutil.which(name) is None and not Path("/usr/sbin", name).exists()
    ]
    if not (WORDPRESS_SRC / "wp-load.php").exists():
        missing.append("wordpress")
    return missing


def _which(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


class MariaDB:
    """A throwaway MariaDB server with one database and user, run as the current user (a pytest
    temporary folder is private to it, so the guide's `user=mysql` could not enter it)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.cnf = folder / "my.cnf"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        self.cnf.write_text(
            textwrap.dedent(f"""\
            [client]
            socket={self.folder}/mysqld.sock
            [mysqld]
            user={getpass.getuser()}
            datadir={data}
            socket={self.folder}/mysqld.sock
            pid-file={self.folder}/mysqld.pid
            log-error={self.folder}/error.log
            port={self.port}
            bind-address=127.0.0.1
            skip-name-resolve
            innodb_buffer_pool_size=64M
            innodb_flush_log_at_trx_commit=2
            """)
        )
        subprocess.run(
            [
                _which("mariadb-install-db"), f"--defaults-file={self.cnf}",
                "--auth-root-authentication-method=socket", "--skip-test-db",
            ],
            check=True, capture_output=True,
        )  # fmt: skip
        self.proc = subprocess.Popen(
            [_which("mariadbd"), f"--defaults-file={self.cnf}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self._ping, timeout=30, what="MariaDB")
        self.sql(
            "CREATE DATABASE wordpress; "
            "CREATE USER 'wp'@'127.0.0.1' IDENTIFIED BY 'wp'; "
            "CREATE USER 'wp'@'localhost' IDENTIFIED BY 'wp'; "
            "GRANT ALL ON wordpress.* TO 'wp'@'127.0.0.1'; GRANT ALL ON wordpress.* TO 'wp'@'localhost';"
        )

    def _ping(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"mariadbd exited: {(self.folder / 'error.log').read_text()[-2000:]}")
        done = subprocess.run(
            [_which("mariadb-admin"), f"--defaults-file={self.cnf}", "ping"], capture_output=True
        )
        return done.returncode == 0

    def sql(self, statement: str, database: str = "") -> str:
        argv = [_which("mariadb"), f"--defaults-file={self.cnf}", "-N", "-B", "-e", statement]
        return subprocess.run(
            argv + ([database] if database else []), check=True, capture_output=True, text=True
        ).stdout

    def stop(self) -> None:
        if self.proc is None:
            return
        subprocess.run(
            [_which("mariadb-admin"), f"--defaults-file={self.cnf}", "shutdown"], capture_output=True
        )
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class WordPress:
    """WordPress at `url` (http://127.0.0.1:port), the plugin active. `ca_bundle`, when given, is the
    private CA of the MeetBridge the plugin is configured for (its "CA bundle" setting; TLS is never
    turned off)."""

    def __init__(self, folder: Path, ca_bundle: Path | None = None, workers: int = 4):
        self.folder = folder
        self.root = folder / "wordpress"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = MariaDB(folder / "mariadb")
        self.ca_bundle = ca_bundle
        self.workers = workers
        self.server: subprocess.Popen | None = None
        self.debug_log = folder / "wp-debug.log"
        self.server_log = folder / "php-server.log"

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> WordPress:
        self.db.start()
        copy_wordpress(WORDPRESS_SRC, self.root)
        for name in ("wp-config.php", ".htaccess"):
            (self.root / name).unlink(missing_ok=True)
        self._write_config()
        self.install_plugin()
        mu = self.root / "wp-content" / "mu-plugins"
        mu.mkdir(parents=True, exist_ok=True)
        for fixture in MU_PLUGINS:
            shutil.copy(FIXTURES / fixture, mu / fixture)
        shutil.copytree(FIXTURES / THEME, self.root / "wp-content" / "themes" / THEME)
        shutil.copy(FIXTURES / "router.php", self.folder / "router.php")
        install = self.php_file(FIXTURES / "install.php", ADMIN_USER, ADMIN_PASSWORD, self.url)
        assert "installed" in install, install
        self.start_server()
        return self

    def install_plugin(self) -> None:
        target = self.root / "wp-content" / "plugins" / "wp-bridge"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(PLUGIN_SRC, target, ignore=shutil.ignore_patterns("tests"))

    def start_server(self) -> None:
        env = {**os.environ, "PHP_CLI_SERVER_WORKERS": str(self.workers)}
        self._server_log = open(self.server_log, "ab")  # noqa: SIM115 - closed in stop_server()
        self.server = subprocess.Popen(
            ["php", "-d", "opcache.enable_cli=1", "-S", f"127.0.0.1:{self.port}", "-t", str(self.root),
             str(self.folder / "router.php")],
            cwd=self.root, env=env, stdout=self._server_log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        wait_for(self._answers, timeout=30, what="php -S")

    def _answers(self) -> bool:
        import urllib.request

        if self.server is not None and self.server.poll() is not None:
            raise RuntimeError(f"php -S exited: {self.server_log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(self.url + "/wp-login.php", timeout=5) as answer:  # noqa: S310
                return answer.status == 200
        except OSError:
            return False

    def stop_server(self) -> None:
        if self.server is None:
            return
        try:
            os.killpg(self.server.pid, signal.SIGTERM)  # the forked workers outlive a signal to the parent
            self.server.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait()
        self._server_log.close()
        self.server = None

    def stop(self) -> None:
        self.stop_server()
        self.db.stop()

    def _write_config(self) -> None:
        salts = "\n".join(
            f"define( '{name}', '{os.urandom(24).hex()}' );"
            for name in (
                "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
                "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT",
            )
        )  # fmt: skip
        (self.root / "wp-config.php").write_text(
            f"""<?php
define( 'DB_NAME', 'wordpress' );
define( 'DB_USER', 'wp' );
define( 'DB_PASSWORD', 'wp' );
define( 'DB_HOST', '127.0.0.1:{self.db.port}' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
{salts}
$table_prefix = 'wp_';
define( 'WP_HOME', '{self.url}' );
define( 'WP_SITEURL', '{self.url}' );
define( 'WP_ENVIRONMENT_TYPE', 'local' );
define( 'DISABLE_WP_CRON', true );
define( 'WP_HTTP_BLOCK_EXTERNAL', true );
define( 'WP_ACCESSIBLE_HOSTS', '127.0.0.1,localhost' );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_DEBUG', true );
define( 'WP_DEBUG_LOG', {json.dumps(str(self.debug_log))} );
define( 'WP_DEBUG_DISPLAY', false );
if ( ! defined( 'ABSPATH' ) ) {{
	define( 'ABSPATH', __DIR__ . '/' );
}}
require_once ABSPATH . 'wp-settings.php';
"""
        )

    # -- PHP ----------------------------------------------------------------------------------------
    def php_file(self, script: Path, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            ["php", str(script), str(self.root), *args], capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"{script.name} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def php(self, code: str, timeout: float = 60):
        """Run PHP inside WordPress (wp-load.php loaded); the snippet's `return` value comes back as JSON."""
        script = self.folder / f"snippet-{time.monotonic_ns()}.php"
        script.write_text(
            "<?php\nrequire $argv[1] . '/wp-load.php';\n"
            "$meetbridge_result = ( function () { " + code + " } )();\n"
            'echo "\\n@@RESULT@@" . wp_json_encode( $meetbridge_result );\n'
        )
        try:
            out = self.php_file(script, timeout=timeout)
        finally:
            script.unlink(missing_ok=True)
        return json.loads(out.rsplit("@@RESULT@@", 1)[1])

    def plugin_log_lines(self) -> list[str]:
        """Lines of wp-debug.log that name the plugin (WordPress core's own noise is ignored)."""
        if not self.debug_log.exists():
            return []
        return [
            line for line in self.debug_log.read_text(errors="replace").splitlines() if "wp-bridge" in line
        ]

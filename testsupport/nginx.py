"""nginx in front of gunicorn instances, as App Platform's load balancer is: one port, round robin."""

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from testsupport.ports import wait_for_port

CONFIG = """\
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream tasklist {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://tasklist;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            # Overwritten, never passed on: the app trusts these from the proxy only.
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


class Nginx:
    def __init__(self, port: int, upstream_ports: list[int]):
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="tasklist-nginx-"))
        servers = "\n".join(f"        server 127.0.0.1:{upstream};" for upstream in upstream_ports)
        # As root, nginx's workers would switch to nobody, who cannot write to this directory.
        user = "user root;" if os.geteuid() == 0 else ""
        (self.dir / "nginx.conf").write_text(CONFIG.format(dir=self.dir, servers=servers, port=port, user=user))
        self.process: subprocess.Popen | None = None

    def start(self) -> "Nginx":
        nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
        if nginx is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx)")
        self.process = subprocess.Popen([nginx, "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir)])
        wait_for_port(self.port, process=self.process)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish the requests in flight
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)

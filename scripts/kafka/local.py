"""Local Apache Kafka 3.9 on loopback (KRaft, every node broker+controller):
one broker, or a three-node cluster for failover tests.

usage: scripts/kafka-local start|stop|status|reset|fetch|topics
                           [--brokers 1|3] [--port N] [--controller-port N]
                           [--site primary|dr] [--dir DIR] [--config FILE] [--prefix P]
                           [--tls [--tls-port N] [--tls-dir DIR]] [--secure]
       scripts/kafka-local kill-node|start-node N [--dir DIR]

  fetch   resolve the broker jars with Maven into var/kafka-cache/lib (once)
  start   format the storage if new, start the broker(s), wait until they
          serve (90 s), then create the topics; no-op if running
  stop    SIGTERM every broker started from DIR, SIGKILL after 30 s (the
          last node of a cluster, left without a quorum, after 5 s)
  status  print running/stopped (one line per node of a cluster);
          exit 0 if everything serves, 3 if not
  reset   stop and delete DIR (the jar cache is kept)
  topics  create the missing topics of the config (--prefix P: name prefix)
  kill-node N    SIGKILL node N of the cluster (a crash)
  start-node N   restart node N with its data; return once it serves

--brokers 1 (default): one broker on 127.0.0.1:PORT, data in DIR/data, log
DIR/broker.log, topics with replication factor 1. --brokers 3: nodes 1-3 on
PORT..PORT+2, controllers on CONTROLLER_PORT..+2, data and broker.log in
DIR/node-N/; replication factor 3, min.insync.replicas 2. The mode is kept
in DIR/mode until stop, so a plain start/status/topics acts on the cluster.

--tls (one broker only): also serve an SSL listener on 127.0.0.1:TLS_PORT (--tls-port,
TURNOUT_KAFKA_TLS_PORT or PORT+1) with the broker certificate of TLS_DIR (--tls-dir,
TURNOUT_TLS_DIR or var/tls; made by scripts/tls-ca when missing) and client certificates
required (mutual TLS, signed by TLS_DIR/ca.pem). The plaintext listener stays for the
controller, topic creation and readiness checks.

--secure (one broker only; not with --tls): least privilege. The client listener on PORT
is SASL_PLAINTEXT with SCRAM-SHA-512 (no unauthenticated listener), the controller
listener on CONTROLLER_PORT SASL_PLAINTEXT with PLAIN, both on 127.0.0.1; the KRaft
StandardAuthorizer denies what no ACL allows. Super users: User:admin (topics, users,
ACLs, inter-broker) and User:controller (the controller listener). After the topics,
scripts/kafka/acls.py makes one SCRAM user per role and the ACLs of the topic catalogue,
and prints them. Passwords are random, made once per DIR, in DIR/secure/ (mode 700):
admin.properties (librdkafka), users/<principal>.properties and users/<principal>.env
(TURNOUT__KAFKA__PROPERTIES={...} for the role's environment). A DIR started with
--secure stays secure until reset.

Two clusters side by side: --site dr is the disaster-recovery site of scripts/dr, a
cluster of its own on DR_PORT (TURNOUT_DR_KAFKA_PORT or 9292; controllers on DR_PORT+1000)
with its data in var/kafka-dr (TURNOUT_DR_KAFKA_DIR); the TURNOUT_KAFKA_* variables are
the primary's and do not apply to it. --site primary (the default) is the
cluster described below. --port and --dir given with --site win. Any other pair of clusters
needs only its own --dir and --port (and --controller-port when the defaults overlap).

PORT: --port, TURNOUT_KAFKA_PORT or 9092. Controller port: --controller-port,
TURNOUT_KAFKA_CONTROLLER_PORT or PORT+1000. DIR: --dir, TURNOUT_KAFKA_DIR or
var/kafka. Config: --config, TURNOUT_CONFIG or config/turnout.yaml. Start timeout:
TURNOUT_KAFKA_START_TIMEOUT or 90 seconds.
"""
import base64
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time

KDIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(KDIR))
sys.path.insert(0, os.path.dirname(KDIR))
from supervise import Process, alive, port_open, read_pid, stop_pids, tail  # noqa: E402  scripts/supervise.py

CACHE = os.path.join(ROOT, "var", "kafka-cache", "lib")
PY = os.path.join(ROOT, "var", "venv", "bin", "python")
STOP_TIMEOUT = 30
QUORUM_GRACE = 5
CLUSTER = 3                   # nodes of --brokers 3


class Failed(Exception):
    """kafka-local: message; exit 1."""


class Usage(Exception):
    """message (if any) and the usage to stderr; exit 2."""


def say(msg, err=False):
    print(f"kafka-local: {msg}", file=sys.stderr if err else sys.stdout, flush=True)


def rel(path):
    return path[len(ROOT) + 1:] if path.startswith(ROOT + "/") else path


def usage(out=sys.stdout):
    print(__doc__.rstrip("\n"), file=out)


def random_id():
    """A Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'."""
    while True:
        s = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not s.startswith("-"):
            return s


def random_secret():
    return base64.urlsafe_b64encode(os.urandom(24)).decode().rstrip("=")


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def java():
    jdk = "/usr/lib/jvm/java-17-openjdk-amd64"
    if os.access(os.path.join(jdk, "bin", "java"), os.X_OK):
        os.environ["JAVA_HOME"] = jdk
    home = os.environ.get("JAVA_HOME")
    return os.path.join(home, "bin", "java") if home else "java"


# ---------------------------------------------------------------- options --

class Options:
    def __init__(self, argv):
        env = os.environ
        if not argv:
            raise Usage(None)
        self.cmd, argv = argv[0], argv[1:]
        self.port = env.get("TURNOUT_KAFKA_PORT") or "9092"
        self.port_given = bool(env.get("TURNOUT_KAFKA_PORT"))
        self.cport = env.get("TURNOUT_KAFKA_CONTROLLER_PORT") or ""
        self.dir = env.get("TURNOUT_KAFKA_DIR") or os.path.join(ROOT, "var", "kafka")
        self.config = env.get("TURNOUT_CONFIG") or os.path.join(ROOT, "config", "turnout.yaml")
        self.prefix = ""
        self.tls = False
        self.tls_port = env.get("TURNOUT_KAFKA_TLS_PORT") or ""
        self.tls_dir = env.get("TURNOUT_TLS_DIR") or os.path.join(ROOT, "var", "tls")
        self.secure = False
        self.brokers = None
        self.site = "primary"
        self.node = None
        self.help = False
        if self.cmd in ("kill-node", "start-node"):
            if not argv or not re.fullmatch(r"[1-3]", argv[0]):
                raise Usage(f"kafka-local: {self.cmd} needs a node number 1-3")
            self.node, argv = int(argv[0]), argv[1:]
        flags = set()  # --port and --dir given here (the environment's are the primary's)
        values = {"--site": "site", "--brokers": "brokers", "--dir": "dir", "--port": "port", "--controller-port": "cport",
                  "--config": "config", "--prefix": "prefix", "--tls-port": "tls_port", "--tls-dir": "tls_dir"}
        i = 0
        while i < len(argv):
            a = argv[i]
            if a in values:
                if i + 1 >= len(argv) or (argv[i + 1] == "" and a != "--prefix"):
                    raise Failed(f"{a} needs a value")
                setattr(self, values[a], argv[i + 1])
                if a == "--port":
                    self.port_given = True
                flags.add(a)
                i += 2
            elif a == "--tls":
                self.tls, i = True, i + 1
            elif a == "--secure":
                self.secure, i = True, i + 1
            elif a in ("-h", "--help"):
                self.help = True
                return
            else:
                raise Usage(f"kafka-local: unknown argument: {a}")
        if self.site not in ("primary", "dr"):
            raise Failed(f"--site: primary or dr, not {self.site}")
        if self.site == "dr":
            if "--port" not in flags:
                self.port, self.port_given = env.get("TURNOUT_DR_KAFKA_PORT") or "9292", True
            if "--controller-port" not in flags:
                self.cport = env.get("TURNOUT_DR_KAFKA_CONTROLLER_PORT") or ""
            if "--dir" not in flags:
                self.dir = env.get("TURNOUT_DR_KAFKA_DIR") or os.path.join(ROOT, "var", "kafka-dr")
        if not self.port.isdigit():
            raise Failed(f"bad port: {self.port}")
        self.port = int(self.port)
        if self.brokers not in (None, "1", "3"):
            raise Failed(f"--brokers: 1 or 3, not {self.brokers}")
        self.cport = int(self.cport) if self.cport else self.port + 1000
        self.tls_port = self.tls_port or str(self.port + 1)
        if not self.tls_port.isdigit():
            raise Failed(f"bad TLS port: {self.tls_port}")
        self.tls_port = int(self.tls_port)
        self.tls_dir = os.path.abspath(self.tls_dir)
        self.config = os.path.abspath(self.config)
        self.dir = os.path.abspath(self.dir)


# ------------------------------------------------------------------- nodes --

class Node:
    """One KRaft node (broker and controller): its directory, ports and JVM."""

    def __init__(self, cluster, n):
        self.cluster, self.n = cluster, n
        one = cluster.size == 1
        self.dir = cluster.dir if one else os.path.join(cluster.dir, f"node-{n}")
        self.label = "broker" if one else f"node {n}"
        self.pidfile = os.path.join(self.dir, "broker.pid")
        self.properties = os.path.join(self.dir, "server.properties")
        self.out = os.path.join(self.dir, "broker.out")

    @property
    def port(self):
        return self.cluster.port + self.n - 1

    @property
    def cport(self):
        return self.cluster.cport + self.n - 1

    def pid(self):
        """The PID of this node's JVM started here, if it still runs."""
        return read_pid(self.pidfile, f"kafka.Kafka {self.properties}")

    def formatted(self):
        return os.path.isfile(os.path.join(self.dir, "data", "meta.properties"))

    def jvm(self):
        return [f"-Dlog4j.configuration=file:{KDIR}/log4j.properties", f"-Dkafka.logs.dir={self.dir}",
                "-Djava.awt.headless=true", "-cp", f"{CACHE}/*"]

    def write_config(self):
        c = self.cluster
        voters = ",".join(f"{m.n}@127.0.0.1:{m.cport}" for m in c.nodes)
        template = "server.properties.in" if c.size == 1 else "cluster.properties.in"
        with open(os.path.join(KDIR, template), encoding="utf-8") as f:
            text = f.read()
        for key, value in (("NODE_ID", self.n), ("PORT", self.port), ("CONTROLLER_PORT", self.cport),
                           ("VOTERS", voters), ("LOG_DIRS", os.path.join(self.dir, "data"))):
            text = text.replace(f"@{key}@", str(value))
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        if c.opts.tls:
            text = c.tls_listener(text)
        if c.secure:
            text = c.secure_listeners(text)
            write_private(self.properties, text)
            os.chmod(self.properties, 0o600)
        else:
            with open(self.properties, "w", encoding="utf-8") as f:
                f.write(text)

    def format_process(self):
        """The StorageTool run that formats this node's storage with the cluster id."""
        args = ["kafka.tools.StorageTool", "format", "-t", self.cluster.cluster_id(), "-c", self.properties]
        if self.cluster.secure:
            # The admin's SCRAM credential goes into the first metadata; the arguments are read
            # from a private file (java @file), so the password is not on a command line.
            args += ["--add-scram", f"SCRAM-SHA-512=[name=admin,password={self.cluster.admin_password()}]"]
            argfile = os.path.join(self.cluster.secrets, "format.args")
            write_private(argfile, "".join(f'"{a}"\n' for a in args))
            args = [f"@{argfile}"]
        return Process(f"format {self.label}", [java(), *self.jvm(), *args], self.out).start()

    def launch(self):
        """Start the JVM in the background (it outlives this program); its PID into broker.pid."""
        heap = "-Xmx1g" if self.cluster.size == 1 else "-Xmx768m"
        try:
            os.remove(self.pidfile)
        except FileNotFoundError:
            pass
        Process(self.label, [java(), "-Xms512m", heap, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", *self.jvm(),
                             "kafka.Kafka", self.properties], self.out, detach=True, pidfile=self.pidfile).start()
        for _ in range(50):
            pid = self.pid()
            if pid:
                return pid
            time.sleep(0.1)
        return None

    def fail(self, why, stop=True):
        """Print why and the tails of this node's logs; stop the cluster (stop=True); exit 1."""
        print(f"kafka-local: {why}" if self.cluster.size == 1 else f"kafka-local: {self.label}: {why}",
              file=sys.stderr, flush=True)
        for f in (self.out, os.path.join(self.dir, "broker.log")):
            if os.path.isfile(f) and os.path.getsize(f):
                print(f"--- tail of {rel(f)}\n{tail(f, 30)}", file=sys.stderr, flush=True)
        if stop:
            stdout, sys.stdout = sys.stdout, sys.stderr
            try:
                self.cluster.stop()
            finally:
                sys.stdout = stdout
        sys.exit(1)


class Cluster:
    """The node(s) started from one DIR: size 1 (a single broker, in DIR itself) or 3 (in
    DIR/node-1..3). Both go through the same code."""

    def __init__(self, opts, size):
        self.opts, self.size = opts, size
        self.dir = opts.dir
        self.port, self.cport = opts.port, opts.cport
        self.nodes = [Node(self, n) for n in range(1, size + 1)]
        self.secure = opts.secure
        self.secrets = os.path.join(self.dir, "secure")             # passwords of a --secure DIR (mode 700)
        self.admin_props = os.path.join(self.secrets, "admin.properties")
        # The ports of a running cluster: DIR/broker.port ("PORT") of one broker,
        # DIR/cluster.ports ("PORT CONTROLLER_PORT" of node 1) of three.
        self.ports_file = os.path.join(self.dir, "broker.port" if size == 1 else "cluster.ports")
        self._id = None

    # ------------------------------------------------------------- helpers --
    def running(self):
        """[(node, pid)] of the nodes that run."""
        return [(nd, pid) for nd in self.nodes for pid in [nd.pid()] if pid]

    def load_ports(self):
        """PORT (and CONTROLLER_PORT) from the running cluster's record; False if none."""
        try:
            with open(self.ports_file, encoding="utf-8") as f:
                parts = f.read().split()
        except OSError:
            return False
        if not parts or not all(p.isdigit() for p in parts) or len(parts) != (1 if self.size == 1 else 2):
            return False
        self.port = int(parts[0])
        if len(parts) > 1:
            self.cport = int(parts[1])
        return True

    def record_ports(self):
        with open(self.ports_file, "w", encoding="utf-8") as f:
            f.write(f"{self.port}\n" if self.size == 1 else f"{self.port} {self.cport}\n")

    def bootstrap(self):
        return ",".join(f"127.0.0.1:{nd.port}" for nd in self.nodes)

    def ports_text(self):
        return f"port {self.port}" if self.size == 1 else f"ports {self.port}-{self.port + self.size - 1}"

    def cluster_id(self):
        """The cluster's id: made once per DIR (DIR/cluster.id) for every node's format."""
        if self._id is None:
            path = os.path.join(self.dir, "cluster.id")
            if not (os.path.isfile(path) and os.path.getsize(path)):
                with open(path, "w", encoding="utf-8") as f:
                    f.write(random_id() + "\n")
            with open(path, encoding="utf-8") as f:
                self._id = f.read().strip()
        return self._id

    def admin_args(self):
        """The admin's credentials for topics.py and acls.py (a file: not on a command line)."""
        return ["--client-properties", self.admin_props] if self.secure else []

    def need_venv(self):
        if not os.access(PY, os.X_OK):
            raise Failed("no Python venv at var/venv: run scripts/setup")

    def ping(self, deadline, **kw):
        """topics.py --ping until the metadata answers (min_brokers / broker_id) or the deadline."""
        args = [PY, os.path.join(KDIR, "topics.py"), "--ping", "--bootstrap", kw.get("bootstrap", self.bootstrap()),
                "--wait", str(max(1, int(deadline - time.monotonic())))]
        if self.size > 1 and "broker_id" not in kw:
            args += ["--min-brokers", str(self.size)]
        if "broker_id" in kw:
            args += ["--broker-id", str(kw["broker_id"])]
        return subprocess.run(args + self.admin_args()).returncode == 0

    def wait_serving(self, nodes, t0):
        """Wait until every node's port accepts connections (each must keep running)."""
        deadline = t0 + START_TIMEOUT
        for nd in nodes:
            while not port_open(nd.port):
                if not nd.pid():
                    nd.fail("broker exited during start-up" if self.size == 1 else "exited during start-up",
                            stop=self.stop_on_failure)
                if time.monotonic() >= deadline:
                    nd.fail(f"{'broker ' if self.size == 1 else ''}not serving on port {nd.port} after "
                            f"{START_TIMEOUT}s", stop=self.stop_on_failure)
                time.sleep(0.5)
        return deadline

    # -------------------------------------------------------- TLS, --secure --
    def tls_listener(self, text):
        """An SSL listener with mutual TLS added to a node's server.properties."""
        o = self.opts
        if port_open(o.tls_port):
            raise Failed(f"TLS port {o.tls_port} is in use by another process")
        res = subprocess.run([os.path.join(ROOT, "scripts", "tls-ca"), "--dir", o.tls_dir],
                             stdout=subprocess.PIPE, text=True)
        for line in res.stdout.splitlines():
            say(line)
        if res.returncode:
            sys.exit(res.returncode)
        with open(os.path.join(o.tls_dir, "broker.password"), encoding="utf-8") as f:
            pw = f.read().strip()
        ssl = f"SSL://127.0.0.1:{o.tls_port}"
        text = re.sub(r"^(listeners=.*)$", rf"\1,{ssl}", text, flags=re.M)
        text = re.sub(r"^(advertised\.listeners=.*)$", rf"\1,{ssl}", text, flags=re.M)
        text = re.sub(r"^(listener\.security\.protocol\.map=.*)$", r"\1,SSL:SSL", text, flags=re.M)
        return text + f"""
# TLS listener (scripts/kafka-local --tls): certificates from scripts/tls-ca.
ssl.keystore.type=PKCS12
ssl.keystore.location={o.tls_dir}/broker.p12
ssl.keystore.password={pw}
ssl.key.password={pw}
ssl.truststore.type=PEM
ssl.truststore.location={o.tls_dir}/ca.pem
ssl.client.auth=required
"""

    def admin_password(self):
        with open(self.admin_props, encoding="utf-8") as f:
            for line in f:
                if line.startswith("sasl.password="):
                    return line.rstrip("\n").split("=", 1)[1]
        return ""

    def make_secrets(self):
        """DIR/secure: the admin's and the controller's passwords, once per DIR."""
        os.makedirs(self.secrets, mode=0o700, exist_ok=True)
        os.chmod(self.secrets, 0o700)
        if not (os.path.isfile(self.admin_props) and os.path.getsize(self.admin_props)):
            if self.nodes[0].formatted():
                raise Failed(f"{rel(self.dir)} was formatted without --secure: reset it first")
            write_private(self.admin_props, "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"
                                            f"sasl.username=admin\nsasl.password={random_secret()}\n")
        ctl = os.path.join(self.secrets, "controller.password")
        if not (os.path.isfile(ctl) and os.path.getsize(ctl)):
            write_private(ctl, random_secret() + "\n")

    def secure_listeners(self, text):
        """SASL on both listeners and the StandardAuthorizer in a node's server.properties."""
        self.make_secrets()
        nd = self.nodes[0]
        admin = self.admin_password()
        with open(os.path.join(self.secrets, "controller.password"), encoding="utf-8") as f:
            ctl = f.read().strip()
        for key, value in (
                ("listeners", f"CLIENT://127.0.0.1:{nd.port},CONTROLLER://127.0.0.1:{nd.cport}"),
                ("advertised.listeners", f"CLIENT://127.0.0.1:{nd.port}"),
                ("inter.broker.listener.name", "CLIENT"),
                ("listener.security.protocol.map", "CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT")):
            text = re.sub(rf"^{re.escape(key)}=.*$", lambda _m, k=key, v=value: f"{k}={v}", text, flags=re.M)
        return text + f"""
# Least privilege (scripts/kafka-local --secure). Clients, and the broker to itself, log in
# with SCRAM-SHA-512 (users in the cluster metadata: admin from the format, the roles' from
# scripts/kafka/acls.py); the controller listener takes PLAIN with this file's one user.
listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="{admin}";
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="{ctl}" user_controller="{ctl}";
sasl.mechanism.controller.protocol=PLAIN
# What no ACL allows is denied; only these two principals are above the ACLs.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:controller
"""

    # ------------------------------------------------------------ commands --
    def start(self):
        t0 = time.monotonic()
        self.need_venv()
        fetch()
        self.stop_on_failure = True
        if self.size == 1:
            self.set_mode()
        running = dict((nd.n, pid) for nd, pid in self.running())
        if running:
            want = self.port
            if not self.load_ports() and self.size > 1:
                raise Failed(f"cluster running but {rel(self.ports_file)} unreadable")
            if self.opts.port_given and want != self.port:
                if self.size == 1:
                    raise Failed(f"already running on port {self.port} (pid {running[1]}); stop it first")
                raise Failed(f"cluster already running on {self.ports_text()}; stop it first")
        if self.size == 1 and running:
            if port_open(self.port):
                say(f"already running (pid {running[1]}, port {self.port})")
                self.topics()
                return
            say(f"broker (pid {running[1]}) is starting; waiting")
        new = [nd for nd in self.nodes if nd.n not in running]
        if new:
            os.makedirs(self.dir, exist_ok=True)
            if self.size == 1:
                for f in (self.nodes[0].pidfile, self.ports_file):
                    if os.path.exists(f):
                        os.remove(f)
            for nd in new:
                where = "" if self.size == 1 else f" (node {nd.n})"
                if port_open(nd.port):
                    raise Failed(f"port {nd.port}{where} is in use by another process")
                if port_open(nd.cport):
                    raise Failed(f"controller port {nd.cport}{where} is in use by another process")
        if self.size > 1:
            self.set_mode()
            self.record_ports()
        if new:
            for nd in new:
                nd.write_config()
            fmt = [(nd, nd.format_process()) for nd in new if not nd.formatted()]
            for nd, proc in fmt:
                rc = proc.wait()
                if self.secure and os.path.exists(os.path.join(self.secrets, "format.args")):
                    os.remove(os.path.join(self.secrets, "format.args"))
                if rc != 0:
                    nd.fail(f"formatting {rel(nd.dir)}/data failed" if self.size == 1
                            else "formatting its storage failed")
            if fmt:
                if self.size == 1:
                    say(f"formatted {rel(self.dir)}/data (cluster {self.cluster_id()})")
                else:
                    say(f"formatted {len(fmt)} node(s) (cluster {self.cluster_id()})")
            if self.size == 1:
                self.record_ports()
            for nd in new:
                pid = nd.launch()
                if not pid:
                    nd.fail("broker exited at once" if self.size == 1 else "exited at once")
                if self.size == 1:
                    note = f", TLS port {self.opts.tls_port}" if self.opts.tls else ""
                    note = ", SASL/SCRAM and ACLs" if self.secure else note
                    say(f"broker starting (pid {pid}, port {nd.port}, controller port {nd.cport}{note})")
                else:
                    say(f"node {nd.n} starting (pid {pid}, port {nd.port}, controller port {nd.cport})")
        deadline = self.wait_serving(self.nodes, t0)
        if not self.ping(deadline):
            if self.size == 1:
                self.nodes[0].fail(f"broker not answering on port {self.port} after {START_TIMEOUT}s")
            self.nodes[0].fail(f"the cluster does not list {self.size} brokers after {START_TIMEOUT}s")
        took = int(time.monotonic() - t0)
        if self.size == 1:
            say(f"running (pid {self.nodes[0].pid()}, port {self.port}) after {took}s")
        else:
            say(f"{self.size} nodes running ({self.ports_text()}) after {took}s")
        self.topics()

    def set_mode(self):
        """DIR/mode holds "3" while a cluster started from DIR is not stopped."""
        mode = os.path.join(self.dir, "mode")
        if self.size > 1:
            with open(mode, "w", encoding="utf-8") as f:
                f.write(f"{self.size}\n")
        elif os.path.exists(mode):
            os.remove(mode)

    def stop(self):
        """SIGTERM every node at once, SIGKILL leftovers after STOP_TIMEOUT. A cluster node left
        alone has no controller quorum (2 of 3): its controlled shutdown waits for one forever, so
        it gets QUORUM_GRACE seconds, then SIGKILL (its log recovers on start). False if none ran."""
        running = self.running()
        if not running:
            if self.size == 1:
                self.forget()
                say("not running")
            return False
        alone_since = []

        def no_quorum(left, waited):
            if self.size == 1 or len(left) != 1:
                return False
            alone_since.append(waited)
            return waited - alone_since[0] >= QUORUM_GRACE
        pids = [pid for _, pid in running]
        killed = stop_pids(pids, STOP_TIMEOUT, give_up=no_quorum)
        early = bool(alone_since) and alone_since[-1] - alone_since[0] >= QUORUM_GRACE
        for nd, pid in running:
            if self.size == 1:
                if pid in killed:
                    say(f"broker (pid {pid}) still up after {STOP_TIMEOUT}s; killing it")
                self.forget()
                say(f"stopped (pid {pid})")
                continue
            if pid in killed:
                if early:
                    say(f"node {nd.n} (pid {pid}) is the last one, without a controller quorum; killing it")
                else:
                    say(f"node {nd.n} (pid {pid}) still up after {STOP_TIMEOUT}s; killing it")
            if os.path.exists(nd.pidfile):
                os.remove(nd.pidfile)
            say(f"stopped node {nd.n} (pid {pid}){' (killed)' if pid in killed else ''}")
        return True

    def forget(self):
        for f in (self.nodes[0].pidfile, self.ports_file):
            if os.path.exists(f):
                os.remove(f)

    def status(self):
        if self.size > 1 and not self.load_ports():
            raise Failed(f"{rel(self.ports_file)} missing or unreadable")
        if self.size == 1 and self.nodes[0].pid():
            self.load_ports()
        code = 0
        for nd in self.nodes:
            pid = nd.pid()
            head = "" if self.size == 1 else f"node {nd.n}: "
            if pid and port_open(nd.port):
                print(f"{head}running (pid {pid}, port {nd.port})")
            elif pid:
                print(f"{head}starting (pid {pid}, port {nd.port} not serving yet)")
                code = 3
            else:
                print(f"{head}stopped" + ("" if self.size == 1 else f" (port {nd.port})"))
                code = 3
        return code

    def topics(self):
        self.need_venv()
        if not os.path.isfile(self.opts.config):
            raise Failed(f"config not found: {self.opts.config}")
        if self.size > 1:
            if not self.load_ports():
                raise Failed(f"{rel(self.ports_file)} missing or unreadable")
        elif not self.opts.port_given and self.nodes[0].pid():
            self.load_ports()
        args = [PY, os.path.join(KDIR, "topics.py"), "--bootstrap", self.bootstrap(), "--config", self.opts.config,
                "--prefix", self.opts.prefix]
        if self.size > 1:
            args += ["--replication-factor", str(self.size)]
        check(subprocess.run(args + self.admin_args()).returncode)
        if self.secure:
            # One SCRAM user per role, the ACLs of the topic catalogue, read back and printed.
            check(subprocess.run([PY, os.path.join(KDIR, "acls.py"), "--bootstrap", self.bootstrap(),
                                  "--config", self.opts.config, *self.admin_args(),
                                  "--users-dir", os.path.join(self.secrets, "users")]).returncode)

    def need_node(self, n):
        if not cluster_mode(self.dir):
            raise Failed(f"no three-node cluster started from {rel(self.dir)} (start --brokers 3)")
        if not self.load_ports():
            raise Failed(f"{rel(self.ports_file)} missing or unreadable")
        nd = self.nodes[n - 1]
        if not os.path.isfile(nd.properties):
            raise Failed(f"node {n} was never started")
        return nd

    def kill_node(self, n):
        nd = self.need_node(n)
        pid = nd.pid()
        if not pid:
            say(f"node {n} is not running")
            return
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            if not alive(pid):
                break
            time.sleep(0.1)
        if alive(pid):
            raise Failed(f"node {n} (pid {pid}) survived SIGKILL")
        say(f"killed node {n} (pid {pid})")

    def start_node(self, n):
        t0 = time.monotonic()
        self.need_venv()
        nd = self.need_node(n)
        self.stop_on_failure = False
        if not nd.pid():
            if port_open(nd.port):
                raise Failed(f"port {nd.port} (node {n}) is in use by another process")
            nd.write_config()
            pid = nd.launch()
            if not pid:
                nd.fail("exited at once", stop=False)
            say(f"node {n} starting (pid {pid}, port {nd.port}, controller port {nd.cport})")
        deadline = self.wait_serving([nd], t0)
        if not self.ping(deadline, bootstrap=f"127.0.0.1:{nd.port}", broker_id=n):
            nd.fail(f"not in the cluster metadata after {START_TIMEOUT}s", stop=False)
        say(f"node {n} serving (pid {nd.pid()}, port {nd.port}) after {int(time.monotonic() - t0)}s")


def check(rc):
    if rc:
        sys.exit(rc)


def cluster_mode(d):
    try:
        with open(os.path.join(d, "mode"), encoding="utf-8") as f:
            return f.read().strip() == str(CLUSTER)
    except OSError:
        return False


def stop_all(opts):
    """The single broker and every cluster node started from DIR."""
    one, three = Cluster(opts, 1), Cluster(opts, CLUSTER)
    if cluster_mode(opts.dir) or three.running():
        stopped = bool(one.running()) and one.stop()
        stopped = three.stop() or stopped
        if not stopped:
            say("not running")
        if os.path.exists(os.path.join(opts.dir, "mode")):
            os.remove(os.path.join(opts.dir, "mode"))
    else:
        one.stop()


def fetch(pom=os.path.join(KDIR, "pom.xml"), cache=CACHE, what="Kafka", tell=None):
    """The jars of `pom` (the broker's by default), resolved with Maven into `cache` once per
    version of the pom. `tell` prints the progress lines (kafka-local's by default)."""
    tell = tell or say
    with open(pom, "rb") as f:
        stamp = hashlib.sha256(f.read()).hexdigest()
    done = os.path.join(cache, ".complete")
    try:
        with open(done, encoding="utf-8") as f:
            if f.read().strip() == stamp:
                tell(f"jars present in {rel(cache)}")
                return
    except OSError:
        pass
    if not shutil.which("mvn"):
        raise Failed("mvn not found: run scripts/setup")
    tell(f"resolving {what} jars with Maven into {rel(cache)}")
    shutil.rmtree(cache, ignore_errors=True)
    os.makedirs(cache)
    mlog = os.path.join(os.path.dirname(cache), os.path.basename(cache) + "-maven.log")
    with open(mlog, "wb") as out:
        rc = subprocess.run(["mvn", "-q", "-B", "-f", pom, "dependency:copy-dependencies", f"-DoutputDirectory={cache}"],
                            stdout=out, stderr=subprocess.STDOUT).returncode
    if rc:
        with open(mlog, encoding="utf-8", errors="replace") as f:
            sys.stderr.write(f.read())
        raise Failed(f"maven could not resolve the {what} jars")
    with open(done, "w", encoding="utf-8") as f:
        f.write(stamp + "\n")
    tell(f"{len([j for j in os.listdir(cache) if j.endswith('.jar')])} jars in {rel(cache)}")


START_TIMEOUT = int(os.environ.get("TURNOUT_KAFKA_START_TIMEOUT") or 90)


def main(argv):
    opts = Options(argv)
    java()  # JAVA_HOME for the JVMs and scripts/tls-ca
    if opts.help:
        usage()
        return 0
    # Mode of this call: --brokers, else the recorded mode of DIR, else 1.
    size = int(opts.brokers) if opts.brokers else (CLUSTER if cluster_mode(opts.dir) else 1)
    cluster = Cluster(opts, size)
    # --secure: asked for, or the DIR was started with it (its admin credentials are there).
    if not cluster.secure and os.path.isfile(cluster.admin_props) and os.path.getsize(cluster.admin_props):
        cluster.secure = True
    if cluster.secure:
        if size != 1:
            raise Failed("--secure: one broker only")
        if opts.tls:
            raise Failed("--secure and --tls: one or the other")
        if opts.prefix:
            raise Failed("--secure: the ACLs follow the config's kafka.name_prefix; no --prefix")
    cmd = opts.cmd
    if cmd == "fetch":
        fetch()
    elif cmd == "start":
        if size > 1 and opts.tls:
            raise Failed("--tls: one broker only")
        if size == 1 and cluster_mode(opts.dir) and Cluster(opts, CLUSTER).running():
            raise Failed(f"a three-node cluster runs from {rel(opts.dir)}; stop it first")
        if size > 1 and Cluster(opts, 1).running():
            pid = Cluster(opts, 1).running()[0][1]
            raise Failed(f"a single broker (pid {pid}) runs from {rel(opts.dir)}; stop it first or use --dir")
        cluster.start()
    elif cmd == "stop":
        stop_all(opts)
    elif cmd == "status":
        if size > 1 and not os.path.isfile(cluster.ports_file):
            cluster = Cluster(opts, 1)
        return cluster.status()
    elif cmd == "reset":
        stop_all(opts)
        shutil.rmtree(opts.dir, ignore_errors=True)
        say(f"removed {rel(opts.dir)}")
    elif cmd == "topics":
        cluster.topics()
    elif cmd == "kill-node":
        cluster.kill_node(opts.node)
    elif cmd == "start-node":
        cluster.start_node(opts.node)
    elif cmd in ("-h", "--help", "help"):
        usage()
    else:
        raise Usage(f"kafka-local: unknown command: {cmd}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Usage as e:
        if e.args[0]:
            print(e.args[0], file=sys.stderr)
        usage(sys.stderr)
        sys.exit(2)
    except Failed as e:
        say(str(e), err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)

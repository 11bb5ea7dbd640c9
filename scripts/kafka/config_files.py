"""Reading what topics.py and acls.py are given: a Turnout config and librdkafka property
files. Each reader reports a problem through the caller's `fail(message)`, which exits."""
import yaml


def load_yaml(path, fail):
    """The YAML document of `path` (a Turnout config) as a dict, {} when empty."""
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        fail(f"{path}: {e}")


def read_properties(path, fail):
    """key=value lines (# starts a comment line), as librdkafka properties."""
    props = {}
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if "=" not in line:
                    fail(f"{path}:{n}: expected key=value")
                k, v = line.split("=", 1)
                props[k.strip()] = v.strip()
    except OSError as e:
        fail(f"{path}: {e}")
    return props


def admin_conf(kafka, bootstrap=None):
    """librdkafka properties for an admin client: `bootstrap` alone when given, else the
    config's kafka.properties and kafka.bootstrap_servers."""
    if bootstrap:
        return {"bootstrap.servers": bootstrap}
    conf = {str(k): str(v) for k, v in (kafka.get("properties") or {}).items()}
    conf["bootstrap.servers"] = kafka.get("bootstrap_servers") or "127.0.0.1:9092"
    return conf

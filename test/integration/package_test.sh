#!/usr/bin/env bash
# The Debian package, as an operator installs it: scripts/package builds it; it is unpacked
# into a temporary root (dpkg -x) and checked there:
#  * it holds the binary, the unit, the role starter, the config, keys, schemas, dashboards,
#    alert rules and docs; the key files are mode 0600; the maintainer scripts parse (sh -n);
#  * the installed binary runs in that root (chroot in a mount namespace of the test's own,
#    the host's shared libraries bound in): `turnout --version`, and `turnout check-config`
#    on the installed /etc/turnout/turnout.yaml, whose paths all point into the package;
#  * `systemd-analyze verify` accepts the installed turnout@.service (its ExecStart pointed
#    at the unpacked role starter);
#  * turnout-role refuses an instance name without <role>-<n>.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

scripts/package
deb=$(ls build/package/turnout_*.deb)
root=$(mktemp -d var/test/package.XXXXXX 2>/dev/null || { mkdir -p var/test; mktemp -d var/test/package.XXXXXX; })
root=$(cd "$root" && pwd)
trap 'rm -rf "$root"' EXIT
dpkg-deb --info "$deb" | sed -n '1,40p'
dpkg -x "$deb" "$root"
ctl=$root/DEBIAN
dpkg-deb -e "$deb" "$ctl"

for f in usr/bin/turnout usr/lib/turnout/turnout-role lib/systemd/system/turnout@.service \
         etc/turnout/turnout.yaml etc/turnout/dev-keys.yaml etc/turnout/dev-psp-keys.yaml etc/turnout/gateway-keys.txt \
         etc/turnout/iso8583/iso87-ascii.yaml usr/share/turnout/schemas/payment-request.schema.json \
         usr/share/turnout/docs/openapi.yaml usr/share/turnout/grafana/turnout.json \
         usr/share/turnout/prometheus/turnout-alerts.yml usr/share/doc/turnout/README.md; do
  [[ -e $root/$f ]] && ok "package holds /$f" || bad "package lacks /$f"
done
for f in etc/turnout/dev-keys.yaml etc/turnout/dev-psp-keys.yaml; do
  mode=$(stat -c %a "$root/$f")
  [[ $mode == 600 ]] && ok "/$f is mode 600" || bad "/$f is mode $mode, not 600"
done
for s in postinst prerm postrm; do
  sh -n "$ctl/$s" && ok "$s parses" || bad "$s does not parse"
done
grep -q '^Depends:.*librdkafka' "$ctl/control" && ok "Depends names librdkafka (from dpkg-shlibdeps)" \
  || bad "Depends lacks librdkafka: $(grep '^Depends' "$ctl/control")"
if grep -nE '(^|[ :{])(config|var)/' "$root/etc/turnout/turnout.yaml" | grep -v '^\s*[0-9]*:\s*#'; then
  bad "the installed config still has relative config/ or var/ paths (above)"
else
  ok "the installed config's paths are absolute"
fi

# The installed binary in the unpacked root.
mkdir -p "$root/usr/lib/x86_64-linux-gnu" "$root/lib/x86_64-linux-gnu" "$root/lib64" "$root/dev" "$root/tmp"
out=$(unshare --mount --propagation private sh -c '
  set -e
  r=$1
  mount --bind /usr/lib/x86_64-linux-gnu "$r/usr/lib/x86_64-linux-gnu"
  mount --bind /usr/lib/x86_64-linux-gnu "$r/lib/x86_64-linux-gnu"
  mount --bind "$(readlink -f /lib64)" "$r/lib64"
  mount --bind /dev "$r/dev"
  chroot "$r" /usr/bin/turnout --version
  chroot "$r" /usr/bin/turnout check-config --config /etc/turnout/turnout.yaml
' sh "$root" 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    /'
[[ $rc == 0 ]] && echo "$out" | grep -q '^turnout [0-9]' && ok "installed turnout --version" || bad "installed turnout --version (exit $rc)"
echo "$out" | grep -q '^/etc/turnout/turnout.yaml: OK' && ok "installed check-config on /etc/turnout/turnout.yaml" \
  || bad "installed check-config on the installed config"

# The unit, verified with its ExecStart pointed at the unpacked starter.
unitdir=$root/unit-check
mkdir -p "$unitdir"
sed "s|ExecStart=/usr/lib/turnout/turnout-role|ExecStart=$root/usr/lib/turnout/turnout-role|" \
  "$root/lib/systemd/system/turnout@.service" > "$unitdir/turnout@.service"
if v=$(cd "$unitdir" && systemd-analyze verify --man=no "turnout@router-1.service" 2>&1) && [[ -z $v ]]; then
  ok "systemd-analyze verify turnout@router-1.service: no findings"
else
  echo "$v" | sed 's/^/    /'
  bad "systemd-analyze verify found problems in turnout@.service"
fi
grep -q '^Type=notify' "$unitdir/turnout@.service" && grep -q '^WatchdogSec=' "$unitdir/turnout@.service" \
  && ok "unit is Type=notify with a watchdog" || bad "unit is not Type=notify with WatchdogSec"

if msg=$("$root/usr/lib/turnout/turnout-role" router 2>&1); then bad "turnout-role accepted 'router'"; else
  echo "$msg" | grep -q "must be <role>-<n>" && ok "turnout-role refuses 'router': $msg" || bad "turnout-role: $msg"; fi

[[ $fail == 0 ]] && echo "OK: package $(basename "$deb")" || echo "FAILED"
exit $fail

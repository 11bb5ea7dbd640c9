# The config the package installs: config/turnout.yaml with its paths made absolute
# (config/ -> /etc/turnout/, var/ -> /var/lib/turnout/, docs/ -> /usr/share/turnout/docs/).
#   cmake -DIN=config/turnout.yaml -DOUT=<file> -P installed_config.cmake
file(READ "${IN}" text)
string(REGEX REPLACE "([ :{])config/" "\\1/etc/turnout/" text "${text}")
string(REGEX REPLACE "([ :{])var/" "\\1/var/lib/turnout/" text "${text}")
string(REGEX REPLACE "([ :{])docs/openapi.yaml" "\\1/usr/share/turnout/docs/openapi.yaml" text "${text}")
string(PREPEND text "# Installed by the turnout package: the shipped example with absolute paths.\n# Override per host in /etc/turnout/turnout.env (TURNOUT__<KEY>__<KEY>=value) rather than\n# editing here; the keys files below are development keys: replace them (docs/operations.md).\n")
file(WRITE "${OUT}" "${text}")

#!/bin/sh
# Write deploy/mosquitto/passwd (the broker's accounts) from the MQTT passwords in .env, with the
# mosquitto_passwd of the broker image. Run it from anywhere; run it again after changing a password.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
env_file="$here/../../.env"
[ -f "$env_file" ] || { echo "passwd.sh: no .env next to docker-compose.yml (cp .env.example .env)" >&2; exit 1; }

value() {  # the last assignment of $1 in .env, without quotes
    sed -n "s/^$1=//p" "$env_file" | tail -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'$/\1/"
}
image=$(sed -n 's/^ *image: *\(eclipse-mosquitto:[^ ]*\).*/\1/p' "$here/../../docker-compose.yml" | head -n 1)

for name in MQTT_INGEST_PASSWORD MQTT_NETWORK_SERVER_PASSWORD MQTT_SIMULATOR_PASSWORD; do
    [ -n "$(value "$name")" ] || { echo "passwd.sh: $name is empty in .env" >&2; exit 1; }
done

docker run --rm -v "$here:/m" \
    -e P_INGEST="$(value MQTT_INGEST_PASSWORD)" \
    -e P_NS="$(value MQTT_NETWORK_SERVER_PASSWORD)" \
    -e P_SIM="$(value MQTT_SIMULATOR_PASSWORD)" \
    "$image" sh -euc '
        rm -f /m/passwd
        touch /m/passwd
        mosquitto_passwd -b /m/passwd stadtpuls "$P_INGEST"
        mosquitto_passwd -b /m/passwd network-server "$P_NS"
        mosquitto_passwd -b /m/passwd simulator "$P_SIM"
        chown 1883:1883 /m/passwd
        chmod 0600 /m/passwd'
echo "wrote $here/passwd (accounts: stadtpuls, network-server, simulator)"

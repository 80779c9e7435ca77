#!/usr/bin/env bash
# Provision a real Neo4j Community server for the test suite, without Docker.
#
# Maven Central does not carry the Neo4j server tarball (neo4j-community-standalone is
# packaging=pom, no tar.gz:unix attached), but org.neo4j:neo4j brings the whole Community
# DBMS including the server entry point org.neo4j.server.CommunityEntryPoint. This script
# copies that artifact and its runtime dependencies into a cache dir; tests/neo4j/harness.py
# runs `java -cp '<lib>/*' org.neo4j.server.CommunityEntryPoint` on a generated neo4j.conf.
#
# Idempotent: a finished copy is marked with READY and reused; Maven reuses ~/.m2.
# Environment:
#   APPSYNC_NEO4J_HOME     cache root (default: $HOME/.cache/appsync-neo4j)
#   APPSYNC_NEO4J_VERSION  Neo4j version (default: 5.26.30, the 5.26 LTS line)
#   APPSYNC_NEO4J_JAVA     java binary to use (default: $JAVA_HOME/bin/java, java on PATH,
#                          then /usr/lib/jvm/*17*, *21*); Neo4j 5.26 needs Java 17 or 21.
set -euo pipefail

version="${APPSYNC_NEO4J_VERSION:-5.26.30}"
cache="${APPSYNC_NEO4J_HOME:-${HOME:-/root}/.cache/appsync-neo4j}"
dest="$cache/neo4j-$version"

die() {
    echo "provision.sh: $*" >&2
    exit 1
}

java_major() {
    # prints the Java feature version (17, 21, ...) of the binary in $1, or nothing
    "$1" -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1
}

pick_java() {
    local candidates=()
    [ -n "${APPSYNC_NEO4J_JAVA:-}" ] && candidates+=("$APPSYNC_NEO4J_JAVA")
    [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME/bin/java")
    command -v java >/dev/null 2>&1 && candidates+=("$(command -v java)")
    local j
    for j in /usr/lib/jvm/*-17-*/bin/java /usr/lib/jvm/*-21-*/bin/java; do
        [ -x "$j" ] && candidates+=("$j")
    done
    for j in "${candidates[@]}"; do
        [ -x "$j" ] || continue
        case "$(java_major "$j")" in
            17 | 21)
                echo "$j"
                return 0
                ;;
        esac
    done
    return 1
}

java_bin="$(pick_java)" || die "no Java 17 or 21 found (tried \$APPSYNC_NEO4J_JAVA, \$JAVA_HOME, PATH, /usr/lib/jvm); Neo4j $version needs one. Install e.g. openjdk-17-jre-headless."

mkdir -p "$cache"
exec 9>"$cache/.provision.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi

warm_class_archive() {
    # Optional: an AppCDS archive of Neo4j's classes makes each later start about a third faster.
    # Needs the repo's venv (the neo4j driver); tests build it lazily when this step is skipped.
    local here py
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    py="${APPSYNC_PYTHON:-$here/../../.venv/bin/python}"
    if [ -x "$py" ] && ! ls "$dest"/classes-*.jsa >/dev/null 2>&1; then
        echo "provision.sh: building the class archive (one training start, about 30 s)..." >&2
        APPSYNC_NEO4J_HOME="$cache" APPSYNC_NEO4J_VERSION="$version" APPSYNC_NEO4J_JAVA="$java_bin" \
            "$py" "$here/ctl.py" warm >&2 || echo "provision.sh: no class archive (not needed)" >&2
    fi
}

if [ -f "$dest/READY" ] && [ -d "$dest/lib" ]; then
    echo "$java_bin" >"$dest/java"
    warm_class_archive
    echo "neo4j $version ready in $dest (cached; java: $java_bin)"
    exit 0
fi

command -v mvn >/dev/null 2>&1 || die "Maven (mvn) not found; it is needed once to fetch org.neo4j:neo4j:$version from Maven Central into $dest."

work="$(mktemp -d "$cache/.work.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.appsync</groupId>
  <artifactId>neo4j-test-server</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.neo4j</groupId>
      <artifactId>neo4j</artifactId>
      <version>$version</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>2.8</version>
      </plugin>
    </plugins>
  </build>
</project>
POM

echo "provision.sh: fetching org.neo4j:neo4j:$version and its runtime dependencies (via ~/.m2)..." >&2
if ! mvn -B -q -f "$work/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$work/lib" >"$work/mvn.log" 2>&1; then
    tail -n 30 "$work/mvn.log" >&2
    die "mvn could not fetch org.neo4j:neo4j:$version (see the Maven output above)"
fi
[ -f "$work/lib/neo4j-$version.jar" ] || die "neo4j-$version.jar missing after mvn; refusing to mark $dest ready"

rm -rf "$dest"
mkdir -p "$dest"
mv "$work/lib" "$dest/lib"
cp "$work/pom.xml" "$dest/pom.xml"
echo "$java_bin" >"$dest/java"
printf 'version=%s\njars=%s\n' "$version" "$(ls "$dest/lib" | wc -l)" >"$dest/READY"
warm_class_archive
echo "neo4j $version ready in $dest ($(du -sh "$dest" | cut -f1); java: $java_bin)"

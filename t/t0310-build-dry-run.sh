#!/bin/sh
test_description='ci-build --dry-run: Dockerfiles in the shapes of docker-library, nginx, Jenkins and BuildKit files plan without fetching anything'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"

# plan NAME [OPTIONS...]: ci-build -n in the context NAME, with a stdin
# that is no document (a dry run must not read one): NAME.plan, NAME.err.
plan() {
	p_=$1 && shift &&
	(cd "$p_" && echo "not a document" | ci-build -n "$@" .) >"$p_.plan" 2>"$p_.err"
}

# steps NAME: the plan's step lines, without their descriptions.
steps() {
	sed -n 's/^\(Dockerfile:[0-9]*\): \([A-Z]*\) .*/\1 \2/p' "$1.plan"
}

test_expect_success 'setup: a docker-library shape (ARG before FROM, ENV legacy and multi, a long RUN, nginx signals)' '
	mkdir lib &&
	cat >lib/Dockerfile <<-\EOF &&
	ARG DEBIAN=bookworm-slim
	FROM registry.invalid/library/debian:${DEBIAN}

	LABEL maintainer="NGINX Docker Maintainers <docker-maint@nginx.com>"
	ENV NGINX_VERSION   1.25.4
	ENV NJS_VERSION=0.8.3 \
	    PKG_RELEASE=1~bookworm
	# create nginx user/group first, to be consistent throughout docker variants
	RUN set -x \
	    && groupadd --system --gid 101 nginx \
	# a comment inside the instruction, as nginx has them
	    && useradd --system --gid nginx --no-create-home --home /nonexistent nginx \
	    && apt-get update \
	    && apt-get install --no-install-recommends --no-install-suggests -y gnupg1 ca-certificates \
	    && rm -rf /var/lib/apt/lists/*
	COPY docker-entrypoint.sh /
	COPY 10-listen-on-ipv6-by-default.sh 20-envsubst-on-templates.sh /docker-entrypoint.d/
	ENTRYPOINT ["/docker-entrypoint.sh"]
	EXPOSE 80/tcp
	STOPSIGNAL SIGQUIT
	CMD ["nginx", "-g", "daemon off;"]
	EOF
	plan lib
'

test_expect_success '... plans: exit 0, one line per instruction, in order, the base expanded' '
	cat >lib.want <<-\EOF &&
	Dockerfile:2 FROM
	Dockerfile:4 LABEL
	Dockerfile:5 ENV
	Dockerfile:6 ENV
	Dockerfile:9 RUN
	Dockerfile:16 COPY
	Dockerfile:17 COPY
	Dockerfile:18 ENTRYPOINT
	Dockerfile:19 EXPOSE
	Dockerfile:20 STOPSIGNAL
	Dockerfile:21 CMD
	EOF
	steps lib >lib.steps && test_cmp lib.want lib.steps &&
	test_grep "^Dockerfile:2: FROM .*: stage 0 on the registry image .registry.invalid/library/debian:bookworm-slim. (pulled when built, not in a dry run)$" lib.plan &&
	test_grep "^Dockerfile:16: COPY docker-entrypoint.sh /: a layer (kept in the cache" lib.plan &&
	test_grep "^target: stage 0, platform .*; 3 layer steps; nothing fetched, nothing built$" lib.plan
'

test_expect_success '... nothing else: no document on stdout, no output, no context read (its files are missing)' '
	! grep "^{" lib.plan &&
	! test -e ci-out && ! test -e lib/ci-out &&
	! test -e lib/docker-entrypoint.sh
'

test_expect_success 'a Jenkins shape: a jlink stage, ARGs in a stage, ENV legacy form, VOLUME, USER, HEALTHCHECK, COPY --from --chown' '
	mkdir jenkins &&
	cat >jenkins/Dockerfile <<-\EOF &&
	ARG JAVA_VERSION=17.0.10_7
	ARG BOOKWORM_TAG=20240211
	FROM registry.invalid/eclipse-temurin:"${JAVA_VERSION}"-jdk-jammy AS jre-build
	RUN jlink \
	         --add-modules ALL-MODULE-PATH \
	         --no-man-pages \
	         --compress=2 \
	         --output /javaruntime

	FROM registry.invalid/debian:bookworm-"${BOOKWORM_TAG}"
	ARG user=jenkins
	ARG group=jenkins
	ARG uid=1000
	ARG gid=1000
	ARG http_port=8080
	ARG JENKINS_HOME=/var/jenkins_home
	ENV JENKINS_HOME $JENKINS_HOME
	ENV JAVA_HOME=/opt/java/openjdk
	ENV PATH "${JAVA_HOME}/bin:${PATH}"
	RUN mkdir -p $JENKINS_HOME \
	  && chown ${uid}:${gid} $JENKINS_HOME \
	  && groupadd -g ${gid} ${group} \
	  && useradd -d "$JENKINS_HOME" -u ${uid} -g ${gid} -l -m -s /bin/bash ${user}
	VOLUME $JENKINS_HOME
	COPY --from=jre-build /javaruntime $JAVA_HOME
	COPY --chown=${user}:${group} jenkins.sh /usr/local/bin/jenkins.sh
	EXPOSE ${http_port}
	USER ${user}
	LABEL \
	    org.opencontainers.image.vendor="Jenkins project" \
	    org.opencontainers.image.title="Official Jenkins Docker image" \
	    org.opencontainers.image.url="https://www.jenkins.io/"
	HEALTHCHECK --interval=30s --timeout=5s --start-period=1m --retries=3 \
	  CMD curl -f http://localhost:${http_port}/login || exit 1
	ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/jenkins.sh"]
	EOF
	plan jenkins --build-arg JAVA_VERSION=21.0.2_13 &&
	test_grep "^Dockerfile:3: FROM .*: stage 0 .jre-build. on the registry image .registry.invalid/eclipse-temurin:21.0.2_13-jdk-jammy." jenkins.plan &&
	test_grep "^Dockerfile:10: FROM .*: stage 1 on the registry image .registry.invalid/debian:bookworm-20240211." jenkins.plan &&
	test_grep "^Dockerfile:4: RUN jlink .*: runs in the OCI runtime; no layer of the image (feeds a later --from)" jenkins.plan &&
	test_grep "^Dockerfile:25: COPY --from=jre-build .*; from stage 0 .jre-build.$" jenkins.plan &&
	test_grep "^Dockerfile:33: HEALTHCHECK .*: config$" jenkins.plan &&
	test $(grep -c "^Dockerfile:" jenkins.plan) = 21 &&
	! test -s jenkins.err
'

test_expect_success 'a BuildKit shape: syntax and platform ARGs, FROM --platform=$BUILDPLATFORM, stages on stages, several mounts, heredocs, --link, ONBUILD, SHELL' '
	mkdir bk &&
	cat >bk/Dockerfile <<-\DOCKERFILE &&
	# syntax=docker/dockerfile:1.7
	ARG GO_VERSION=1.22
	FROM --platform=$BUILDPLATFORM registry.invalid/golang:${GO_VERSION}-alpine AS base
	WORKDIR /src
	ENV CGO_ENABLED=0 GOFLAGS=-trimpath
	FROM base AS src
	COPY go.mod go.sum ./
	FROM base AS build
	ARG TARGETOS TARGETARCH
	RUN --mount=type=cache,target=/go/pkg/mod \
	    --mount=type=cache,target=/root/.cache/go-build,sharing=locked \
	    --mount=type=bind,from=src,source=/src,target=/src \
	    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app .
	RUN <<EOT sh
	set -e
	go version > /out/go-version
	EOT
	FROM scratch AS test
	COPY --from=build /out/app /
	FROM scratch
	SHELL ["/bin/sh", "-o", "pipefail", "-c"]
	COPY --link --chmod=0755 --from=build /out/app /usr/local/bin/app
	COPY <<-"EOF" <<config.json /etc/app/
	#!/bin/sh
	exec app "$@"
	EOF
	{"listen": ":8080"}
	config.json
	ONBUILD COPY . /app
	USER 65532:65532
	ENTRYPOINT ["app"]
	DOCKERFILE
	plan bk &&
	test_grep "^# syntax=docker/dockerfile:1.7: noted, not fetched" bk.plan &&
	test_grep "^Dockerfile:3: FROM .*: stage 0 .base. on the registry image .registry.invalid/golang:1.22-alpine. (pulled when built, not in a dry run), platform linux/" bk.plan &&
	test_grep "^Dockerfile:8: FROM base AS build: stage 2 .build. on stage 0 .base.$" bk.plan &&
	test_grep "^Dockerfile:10: RUN .*; cache mount /go/pkg/mod (kept in the build cache, not in the image); cache mount /root/.cache/go-build (kept in the build cache, not in the image); bind mount /src; from stage 1 .src.$" bk.plan &&
	test_grep "^Dockerfile:14: RUN <<EOT sh: runs in the OCI runtime; .*; 1 heredoc$" bk.plan &&
	test_grep "^Dockerfile:18: FROM scratch AS test: stage 3 .test., skipped: the target does not need it$" bk.plan &&
	test_grep "^Dockerfile:23: COPY <<-\"EOF\" <<config.json /etc/app/: a layer .*; heredoc EOF; heredoc config.json$" bk.plan &&
	test_grep "^Dockerfile:29: ONBUILD COPY . /app: config$" bk.plan &&
	test_grep "^target: stage 4, platform .*; 2 layer steps" bk.plan
'

test_expect_success '--target picks the stage; the stages after it are skipped' '
	plan bk --target test &&
	test_grep "^Dockerfile:18: FROM scratch AS test: stage 3 .test. from scratch$" bk.plan &&
	test_grep "^Dockerfile:20: FROM scratch: stage 4, skipped" bk.plan &&
	test_grep "^target: stage 3 .test." bk.plan
'

test_expect_success '--no-cache: the plan says layers are not kept' '
	plan bk --no-cache &&
	test_grep "^Dockerfile:22: COPY --link .*: a layer (--no-cache: built, not kept)" bk.plan
'

test_expect_success 'the escape directive: backtick continuations, backslashes as they are' '
	mkdir win &&
	cat >win/Dockerfile <<-\EOF &&
	# escape=`
	FROM scratch
	COPY a\b `
	     C:\app\
	WORKDIR C:\app
	EOF
	plan win &&
	test_grep "^Dockerfile:3: COPY a.b      C:.app.: a layer" win.plan &&
	test $(grep -c "^Dockerfile:" win.plan) = 3
'

# refused NAME DOCKERFILE-TEXT MESSAGE: the dry run exits 2 with the
# message (FILE:LINE) on stderr and nothing on stdout.
refused() {
	mkdir -p "r-$1" && printf '%s\n' "$2" >"r-$1/Dockerfile" &&
	printf '%s\n' "$3" >"r-$1.want"
	test_expect_success "refused by the dry run: $1" "
		test_expect_code 2 plan r-$1 &&
		test_grep \"\$(cat r-$1.want)\" r-$1.err &&
		! test -s r-$1.plan
	"
}

refused unterminated "$(printf 'FROM scratch\nRUN <<EOF\necho hi\nEOT\n')" \
	"^ci-build: error: Dockerfile:2: unterminated heredoc: no line 'EOF' ends the heredoc <<EOF opens$"
refused unterminated2 "$(printf 'FROM scratch\nCOPY <<a.txt <<b.txt /d/\na\na.txt\nb\n')" \
	"^ci-build: error: Dockerfile:2: unterminated heredoc: no line 'b.txt'"
refused checksum "$(printf 'FROM scratch\nADD --checksum=sha256:abc https://example.com/a /a\n')" \
	"^ci-build: error: Dockerfile:2: ADD --checksum='sha256:abc': expected sha256: and 64 hex digits"
refused flag "$(printf 'FROM scratch\n\nCOPY --chown=1:1 --own=2 a /a\n')" \
	"^ci-build: error: Dockerfile:3: unknown flag --own for COPY"
refused runflag "$(printf 'FROM scratch\nRUN --mount=type=cache,target=/c --mout=x true\n')" \
	"^ci-build: error: Dockerfile:2: unknown flag --mout for RUN"
refused ctxbindup "$(printf 'FROM scratch\nRUN --mount=type=cache,target=/c --mount=type=bind,source=../go.mod,target=/go.mod true\n')" \
	"^ci-build: error: Dockerfile:2: RUN: --mount: source='../go.mod' has a '..'"
refused git "$(printf 'FROM scratch\nADD https://github.com/moby/buildkit.git#v0.13 /src\n')" \
	"^ci-build: error: Dockerfile:2: ADD of a git repository is not supported"
refused port "$(printf 'FROM scratch\nEXPOSE 80/tcp 8080/quic\n')" \
	"^ci-build: error: Dockerfile:2: EXPOSE: unknown protocol 'quic'"
refused fromlater "$(printf 'FROM scratch\nCOPY --from=later /a /a\nFROM scratch AS later\nFROM scratch\nCOPY --from=0 /a /a\n')" \
	"^ci-build: error: Dockerfile:2: COPY --from='later': that stage is not defined before this one"

test_expect_success 'refused by the dry run: a --target that is no stage' '
	mkdir r-target && printf "FROM scratch AS a\n" >r-target/Dockerfile &&
	test_expect_code 2 plan r-target --target nope &&
	test_grep "^ci-build: error: Dockerfile: no stage .nope. to build (stages: a)$" r-target.err &&
	! test -s r-target.plan
'

test_done

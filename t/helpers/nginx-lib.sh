# nginx-lib.sh: what the tests that start a real nginx share.
#
# nginx_conf_head DIR: the head of an nginx.conf whose pid file, logs and
# temporary files are all under DIR (so that the machine's nginx, if any,
# is never touched), up to and including "http {": the caller writes its
# servers and closes the block.  Makes DIR/tmp.
nginx_conf_head() {
	mkdir -p "$1/tmp" &&
	cat <<-EOF
	daemon off;
	worker_processes 1;
	pid $1/nginx.pid;
	error_log $1/error.log notice;
	events { worker_connections 64; }
	http {
	access_log $1/access.log;
	client_body_temp_path $1/tmp/body;
	proxy_temp_path $1/tmp/proxy;
	fastcgi_temp_path $1/tmp/fastcgi;
	uwsgi_temp_path $1/tmp/uwsgi;
	scgi_temp_path $1/tmp/scgi;
	EOF
}

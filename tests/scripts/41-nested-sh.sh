# nested shells and exit status propagation
sh -c "sh -c 'echo nested; exit 7'"; echo "status=$?"
sh -c 'echo "args: $0 $1 $2"' zero one two
echo 'echo from stdin script; exit 4' | sh; echo "stdin sh status=$?"
printf 'echo script file\nexit 9\n' > /tmp/s.sh; sh /tmp/s.sh; echo "file script status=$?"

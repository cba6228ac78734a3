# echo and printf builtins and applets
echo hello world
echo -n "no newline"; echo " then newline"
echo -e 'tab\there\nsecond line'
printf '%s|%5d|%-5s|%x|%o|%c\n' str 42 left 255 8 z
printf '%03d %.2f %e\n' 7 3.14159 12345.678
printf 'escapes: \\ \101 \x42\n'
/bin/echo applet echo
/usr/bin/printf '%s\n' applet printf

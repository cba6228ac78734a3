# clock_gettime: the year is the same inside and outside
date +%Y
y=$(date +%Y); [ "$y" -ge 2024 ] && echo "year plausible"
date -d @0 -u +%Y-%m-%dT%H:%M:%S
date -u -d '2000-01-02 03:04:05' +%s

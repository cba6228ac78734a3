# here-documents: expanding, quoted, <<- with tab stripping, into a pipe
name=moat
cat <<EOT
hello $name
sum=$((2 + 3))
EOT
cat <<'EOT'
literal $name $((1+1))
EOT
cat <<-EOT
	tabs stripped for $name
	EOT
tr a-z A-Z <<EOT | sort
banana
apple
EOT
while read -r a b; do echo "$b $a"; done <<EOT
1 one
2 two
EOT

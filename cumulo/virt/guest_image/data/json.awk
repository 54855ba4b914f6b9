# Flattens a JSON document into "path<TAB>value" lines, one per scalar, the
# path being the keys and array indexes from the top joined by "/":
#   {"uuid": "u", "public_keys": {"k": "ssh-ed25519 AAAA"}, "keys": [{"name": "k"}]}
# gives "uuid\tu", "public_keys/k\tssh-ed25519 AAAA" and "keys/0/name\tk".
# Enough for meta_data.json: escapes other than \" \\ \/ \n \t become "?".

function read_string(    out, c) {
	pos++
	out = ""
	while (pos <= len) {
		c = substr(text, pos, 1)
		if (c == "\"") {
			pos++
			return out
		}
		if (c == "\\") {
			c = substr(text, pos + 1, 1)
			pos += 2
			if (c == "n" || c == "t") out = out " "
			else if (c == "u") { out = out "?"; pos += 4 }
			else if (c == "\"" || c == "\\" || c == "/") out = out c
			else out = out "?"
			continue
		}
		out = out c
		pos++
	}
	return out
}

function read_bare(    start) {
	start = pos
	while (pos <= len && index(",]} \t\r\n", substr(text, pos, 1)) == 0) pos++
	return substr(text, start, pos - start)
}

function emit(value,    path, d) {
	path = ""
	for (d = 1; d <= depth; d++) {
		path = path (d > 1 ? "/" : "") (kind[d] == "{" ? key[d] : item[d])
	}
	print path "\t" value
}

{ text = text $0 "\n" }

END {
	len = length(text)
	pos = 1
	depth = 0
	while (pos <= len) {
		c = substr(text, pos, 1)
		if (c == "{" || c == "[") {
			depth++
			kind[depth] = c
			item[depth] = 0
			want_key[depth] = (c == "{")
			pos++
		} else if (c == "}" || c == "]") {
			depth--
			pos++
		} else if (c == ",") {
			if (kind[depth] == "[") item[depth]++
			else want_key[depth] = 1
			pos++
		} else if (c == "\"") {
			value = read_string()
			if (kind[depth] == "{" && want_key[depth]) {
				key[depth] = value
				want_key[depth] = 0
			} else {
				emit(value)
			}
		} else if (index(": \t\r\n", c) > 0) {
			pos++
		} else {
			emit(read_bare())
		}
	}
}

# Many rules keyed on input equality (the shape OPA's rule indexer
# optimizes): method/path tables, role tables, a rule per header value,
# and rules with overlapping conditions of which several succeed.
package corpus.rule_tables

default decision := "deny"

decision := "allow-get" if {
	input.method == "GET"
	input.path == "/a"
}

decision := "allow-get" if {
	input.method == "GET"
	input.path == "/b"
}

decision := "allow-post" if {
	input.method == "POST"
	input.path == "/a"
}

decision := "allow-admin" if {
	input.role == "admin"
	input.method == "DELETE"
}

tier := "gold" if input.plan == "enterprise"

tier := "silver" if input.plan == "team"

tier := "bronze" if input.plan == "free"

tier := "bronze" if input.plan == "trial"

limits contains 1000 if tier == "gold"

limits contains 100 if tier == "silver"

limits contains 10 if tier == "bronze"

limits contains 5 if input.flagged == true

limits contains 5 if input.flagged == "yes"

region := "eu" if input.country in {"de", "fr", "nl"}

region := "us" if input.country in {"us", "ca"}

region := "apac" if startswith(input.country, "a")

result["decision"] := decision

result["tier"] := tier

result["limit"] := min(limits)

result["region"] := region

module github.com/readonce/readonce

go 1.26.8

module example.com/certain

go 1.22

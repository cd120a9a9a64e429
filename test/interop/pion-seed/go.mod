module sdrlink.test/pion-seed

go 1.19

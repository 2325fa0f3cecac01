type	T	=	{ [ string ] : { number } }
local	v	:	T	=	{}

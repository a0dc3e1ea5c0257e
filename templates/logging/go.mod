module {{module}}

go {{goVersion}}

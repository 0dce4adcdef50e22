# ccci-status: render the operator's status page (ccci-status [--out DIR]).
# It only reads the state directory and writes the site: no abra, no docker.
{
  ccciExecutable,
  coreutils,
}:
ccciExecutable {
  name = "ccci-status";
  module = "ccci.entry.status";
  tools = [ coreutils ];
}

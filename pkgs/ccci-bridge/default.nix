# ccci-bridge: `!testme` PR comments to CI builds, results back to the PR.
# It only speaks HTTP (forge and Drone), so it gets no abra and no docker:
# coreutils only.
{
  ccciExecutable,
  coreutils,
}:
ccciExecutable {
  name = "ccci-bridge";
  module = "ccci.entry.bridge";
  tools = [ coreutils ];
}

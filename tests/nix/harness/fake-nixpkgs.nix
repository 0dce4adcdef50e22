# A fake nixpkgs flake for evaluating flake.nix offline (tests/nix copies it
# next to nixpkgs' real lib and ./fake-pkgs.nix, then passes it with
# --override-input nixpkgs). `lib` is real; the packages are fake: see
# fake-pkgs.nix for what that can and cannot show.
{
  outputs =
    { self }:
    let
      lib = import ./lib;
      pkgsFor =
        system:
        import ./fake-pkgs.nix {
          inherit lib system;
          hash = "11111111111111111111111111111111";
        };
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] pkgsFor;
    };
}

using Cocoon.Testing;

namespace Cocoon.Ledger.Tests.Contracts;

/// <summary>
/// The stake contract's own tests (Cocoon.Ledger/Contracts/Stake/stake.test.mjs) run on @ton/sandbox, the real TVM:
/// compiling the Tolk source, deposits, the withdrawal request and its unbonding delay, slashing by the network's key
/// only. Run from here so `./cocoon test` covers them.
/// </summary>
public sealed class StakeContractTests
{
    private static readonly NodeFolder Folder = new(Path.Combine("Cocoon.Ledger", "Contracts", "Stake"), Path.Combine("@ton", "tolk-js"));

    [Fact]
    public async Task Contract_tests_pass_on_the_sandbox()
    {
        var result = await Folder.RunAsync("--test", ["--test-reporter=tap", "stake.test.mjs"]);

        Assert.True(result.ExitCode == 0, $"node --test failed (exit {result.ExitCode}):\n{result.Stdout}\n{result.Stderr}");
        Assert.Contains("# pass 7", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("# fail 0", result.Stdout, StringComparison.Ordinal);
    }
}

using Cocoon.Testing;

namespace Cocoon.Ledger.Tests.Ton;

/// <summary>The project's Node scripts in Cocoon.Ledger/LocalChain (the development-only local chain and the @ton/core vector generator).</summary>
internal static class NodeScripts
{
    private static readonly NodeFolder Folder = new(Path.Combine("Cocoon.Ledger", "LocalChain"), Path.Combine("@ton", "sandbox"));

    /// <summary>The chain folder, its packages installed.</summary>
    public static string ChainDir
    {
        get
        {
            Folder.EnsureInstalledAsync().GetAwaiter().GetResult();
            return Folder.Path;
        }
    }

    public static string Run(string script, params string[] args)
    {
        var result = Folder.RunAsync(script, args).GetAwaiter().GetResult();
        return result.ExitCode == 0 ? result.Stdout : throw new InvalidOperationException($"node {script} failed: {result.Stderr}");
    }
}

using System.Diagnostics;
using Cocoon.Testing;

namespace Cocoon.Ledger.Tests.Ton;

/// <summary>Runs the project's Node scripts in Cocoon.Ledger/Chain, installing its locked packages once if needed.</summary>
internal static class NodeScripts
{
    private static readonly Lazy<string> Installed = new(Install, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string ChainDir => Installed.Value;

    public static string Run(string script, params string[] args)
    {
        var psi = new ProcessStartInfo("node") { WorkingDirectory = ChainDir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(script);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? stdout : throw new InvalidOperationException($"node {script} failed: {stderr.Result}");
    }

    private static string Install()
    {
        var dir = Path.Combine(SharedFiles.RepoRoot, "Cocoon.Ledger", "Chain");
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "@ton", "sandbox")))
        {
            var psi = new ProcessStartInfo("npm", "ci --no-audit --no-fund") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                throw new InvalidOperationException("npm ci in Cocoon.Ledger/Chain failed: " + err.Result);
            }
        }

        return dir;
    }
}

using System.Diagnostics;
using System.Text.RegularExpressions;
using Cocoon.Testing;

namespace Cocoon.Worker.Tests;

/// <summary>The real Cocoon.Worker executable, as ./cocoon generate runs it.</summary>
public sealed partial class CliTests
{
    [Fact]
    public async Task GeneratePrintsTheCompletionAndExactlyOneStatsLine()
    {
        var (code, stdout, stderr) = await RunAsync("generate", "--prompt", "Once upon a time", "--max-tokens", "24", "--temperature", "0", "--threads", "1", "--model", SharedFiles.SmallModel);
        Assert.Equal(0, code);
        Assert.StartsWith(", there was a little girl named Lily.", stdout, StringComparison.Ordinal);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Matches(StatsLine(), lines[0]);
        Assert.StartsWith("prompt 5 tok, ", lines[0], StringComparison.Ordinal);
        Assert.Contains("; generation 24 tok, ", lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABadArgumentIsOneErrorLine()
    {
        var (code, stdout, stderr) = await RunAsync("generate", "--prompt", "x", "--max-tokens", "0", "--model", SharedFiles.SmallModel);
        Assert.Equal(1, code);
        Assert.Equal(string.Empty, stdout.Trim());
        Assert.Contains("max_tokens", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SelfCheckPrintsTheModelIdentity()
    {
        var (code, stdout, _) = await RunAsync("selfcheck", "--model", SharedFiles.SmallModel, "--threads", "1");
        Assert.Equal(0, code);
        Assert.Contains("270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d", stdout, StringComparison.Ordinal);
        Assert.Contains("selfcheck ok", stdout, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^prompt \d+ tok, \d+\.\d tok/s; generation \d+ tok, \d+\.\d tok/s$")]
    private static partial Regex StatsLine();

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        using var data = new TempDir("cocoon-cli-test");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Cocoon.Worker.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["COCOON_DATA"] = data.Path;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}

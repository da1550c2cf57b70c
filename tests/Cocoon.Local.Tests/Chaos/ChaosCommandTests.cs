using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Cocoon.Testing;

namespace Cocoon.Local.Tests.Chaos;

/// <summary>
/// <c>Cocoon.Local chaos</c> as <c>./cocoon chaos</c> runs it, small: a real stack of 2 gateways, 3 workers and Redis
/// (through <c>up</c>), real SIGKILLs of workers and a gateway and a real Redis restart, and the ledger's own checker.
/// </summary>
public sealed partial class ChaosCommandTests
{
    private static string Configuration => AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";

    private static string Built(string project) => Path.Combine(SharedFiles.RepoRoot, project, "bin", Configuration, "net10.0", project);

    [Fact]
    public void Forty_streamed_jobs_under_worker_gateway_and_redis_faults_lose_nothing_and_bill_nothing_twice()
    {
        var psi = new ProcessStartInfo(Built("Cocoon.Local")) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = SharedFiles.RepoRoot };
        foreach (var a in new[] { "chaos", "--gateway", Built("Cocoon.Bot"), "--worker", Built("Cocoon.Worker"), "--jobs", "40", "--concurrency", "4", "--max-tokens", "8", "--timeout", "15" })
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["COCOON_MODEL"] = SharedFiles.SmallModel;
        psi.Environment["Llama__Threads"] = "1";
        psi.Environment["Llama__MaxConcurrency"] = "2";
        var output = new StringBuilder();
        using var chaos = Process.Start(psi)!;
        chaos.OutputDataReceived += (_, e) => Append(output, e.Data);
        chaos.ErrorDataReceived += (_, e) => Append(output, e.Data);
        chaos.BeginOutputReadLine();
        chaos.BeginErrorReadLine();
        if (!chaos.WaitForExit(TimeSpan.FromMinutes(12)))
        {
            chaos.Kill(entireProcessTree: true);
        }

        chaos.WaitForExit();
        var text = Text(output);
        Assert.True(chaos.ExitCode == 0, text);
        Assert.Contains("chaos: PASS", text, StringComparison.Ordinal);
        Assert.Matches(@"lost: +0\n", text);
        Assert.Matches(@"answered twice: +0\n", text);
        Assert.Matches(@"billed twice: +0 ", text);
        Assert.Matches(@"holds left open: +0\n", text);
        Assert.Contains("ledger check:      ledger ok", text, StringComparison.Ordinal);
        Assert.Matches(@"faults: +[1-9]\d* worker SIGKILLs", text);
        Assert.Contains("SIGKILL gateway 2", text, StringComparison.Ordinal);
        Assert.Contains("Redis answers again", text, StringComparison.Ordinal);
        Assert.Contains("no process of the stack was left running", text, StringComparison.Ordinal);

        // A passing run removes its data folder and leaves no process of its stack behind.
        var data = DataFolder().Match(text).Groups[1].Value;
        Assert.False(Directory.Exists(data), data);
        Assert.Empty(LocalProcesses.Describe(data));
    }

    [Fact]
    public void A_bad_argument_is_named()
    {
        var psi = new ProcessStartInfo(Built("Cocoon.Local")) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "chaos", "--gateway", Built("Cocoon.Bot"), "--worker", Built("Cocoon.Worker"), "--jobs", "none" })
        {
            psi.ArgumentList.Add(a);
        }

        using var chaos = Process.Start(psi)!;
        var stderr = chaos.StandardError.ReadToEnd();
        chaos.WaitForExit();
        Assert.Equal(2, chaos.ExitCode);
        Assert.Contains("--jobs must be a whole number", stderr, StringComparison.Ordinal);
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    private static string Text(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    [GeneratedRegex(@"Redis\) under (\S+);")]
    private static partial Regex DataFolder();
}

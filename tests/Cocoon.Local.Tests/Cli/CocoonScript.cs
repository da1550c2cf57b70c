using System.Diagnostics;
using System.Text.RegularExpressions;
using Cocoon.Testing;

namespace Cocoon.Local.Tests.Cli;

/// <summary>
/// The <c>cocoon</c> script as a user reads it: its usage lines (<c>#   ./cocoon NAME ARGS   what it does</c> in the
/// header, which <c>./cocoon --help</c> prints), the commands its case list dispatches, and running it.
/// </summary>
internal static partial class CocoonScript
{
    public static string Path => System.IO.Path.Combine(SharedFiles.RepoRoot, "cocoon");

    public static string Text => File.ReadAllText(Path);

    /// <summary>The commands the script's case list dispatches (<c>up|test|…) c="$1"</c>).</summary>
    public static IReadOnlyList<string> Commands()
    {
        var match = CaseList().Match(Text);
        Assert.True(match.Success, "the cocoon script's command case list was not found");
        return match.Groups[1].Value.Split('|');
    }

    /// <summary>Each command's usage line (what follows <c>./cocoon NAME</c> in the header), by command.</summary>
    public static IReadOnlyDictionary<string, string> Usage() =>
        UsageLine().Matches(Text).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.Ordinal);

    /// <summary>The flags (<c>--name</c>) a usage line or a printed command names.</summary>
    public static IReadOnlyList<string> Flags(string text) => [.. Flag().Matches(text).Select(m => m.Value)];

    /// <summary>
    /// The word a command requires right after its name (<c>keygen</c> in <c>provider keygen [--key FILE]</c>,
    /// <c>check</c> in <c>ledger check</c>), or null when it takes options, placeholders or optional words first.
    /// </summary>
    public static string? RequiredWord(string usage) =>
        usage.TrimStart().Split(' ', 2)[0] is { Length: > 0 } first && LowerWord().IsMatch(first) ? first : null;

    /// <summary>Runs <c>./cocoon ARGS</c> with a data folder of its own; the exit code and what it printed (stdout, stderr).</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string dataDir, params string[] args)
    {
        var psi = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = SharedFiles.RepoRoot };
        psi.ArgumentList.Add(Path);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["COCOON_DATA"] = dataDir;
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        // Every call here only prints or refuses. One that runs on has started real work (an older script took
        // `up --help` for `up` and started the stack): stop it and its children and say so, rather than hang the run.
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"./cocoon {string.Join(' ', args)} did not return: it started working instead of printing or refusing.\n{stdout.GetAwaiter().GetResult()}{stderr.GetAwaiter().GetResult()}");
        }

        process.WaitForExit();
        return (process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    [GeneratedRegex(@"\n  ((?:[a-z]+\|)+[a-z]+)\) c=""\$1""")]
    private static partial Regex CaseList();

    [GeneratedRegex(@"^#   \./cocoon ([a-z]+)(?![A-Z])(.*)$", RegexOptions.Multiline)]
    private static partial Regex UsageLine();

    [GeneratedRegex(@"(?<=[\s\[])--[a-z][a-z0-9-]*")]
    private static partial Regex Flag();

    [GeneratedRegex("^[a-z]+$")]
    private static partial Regex LowerWord();
}

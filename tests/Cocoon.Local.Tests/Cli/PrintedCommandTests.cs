using System.Diagnostics;
using System.Text.RegularExpressions;
using Cocoon.Local.Chaos;
using Cocoon.Local.Up;
using Cocoon.Network.Hosting;
using Cocoon.Testing;

namespace Cocoon.Local.Tests.Cli;

/// <summary>
/// Every command the product tells someone to run is real: each <c>./cocoon …</c> a bot reply, a refusal, an error
/// message, the <c>up</c> banner, the Mini App or README.md prints names a command of the script, the word the command
/// requires, and only flags its usage line lists; every flag of a usage line is taken by the program the script runs;
/// every COCOON_* or TELEGRAM_* variable they name is one something reads. Nothing here builds, installs or serves:
/// the programs are run only where they stop at once (a closed port, an empty data folder).
/// </summary>
public sealed partial class PrintedCommandTests
{
    private static string Configuration => AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";

    private static string Built(string project) => Path.Combine(SharedFiles.RepoRoot, project, "bin", Configuration, "net10.0", project);

    [Fact]
    public void Every_printed_command_is_a_script_command_with_its_required_word_and_known_flags()
    {
        var commands = CocoonScript.Commands();
        var usage = CocoonScript.Usage();
        var benchmarks = Benchmarks();
        var mentions = PrintedCommands.All();
        Assert.True(mentions.Count > 20, $"only {mentions.Count} printed commands were found: is the scan still reading the sources?");

        // The texts that tell providers and users what to run are among them (so a change that hides them from the scan fails here).
        Assert.Contains(mentions, m => m.Where.StartsWith("Cocoon.Bot/Telegram/Providers/ProviderCommands.cs", StringComparison.Ordinal) && m.Command == "worker");
        Assert.Contains(mentions, m => m.Where.StartsWith("Cocoon.Bot/Telegram/Receipts/VerifyButton.cs", StringComparison.Ordinal) && m.Command == "verify");
        Assert.Contains(mentions, m => m.Where.StartsWith("Cocoon.Network/Access/JoinRefusals.cs", StringComparison.Ordinal) && m.Command == "provider");
        Assert.Contains(mentions, m => m.Where.StartsWith("Cocoon.Bot/MiniApp/web/src/", StringComparison.Ordinal) && m.Command == "verify");
        Assert.Contains(mentions, m => m.Where.StartsWith("Cocoon.Local/Up/UpBanner.cs", StringComparison.Ordinal) && m.Command == "ask");
        Assert.Contains(mentions, m => m.Where.StartsWith("README.md", StringComparison.Ordinal) && m.Command == "up");

        var wrong = new List<string>();
        foreach (var m in mentions)
        {
            if (!commands.Contains(m.Command))
            {
                wrong.Add($"{m}: '{m.Command}' is not a command of the script ({string.Join(", ", commands)})");
                continue;
            }

            if (!usage.TryGetValue(m.Command, out var line))
            {
                wrong.Add($"{m}: the script's usage has no line for '{m.Command}'");
                continue;
            }

            var words = m.Rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (CocoonScript.RequiredWord(line) is { } required && (words.Length == 0 || words[0] != required))
            {
                wrong.Add($"{m}: './cocoon {m.Command}' needs '{required}' next (usage: ./cocoon {m.Command}{line.TrimEnd()})");
            }

            if (m.Command == "bench" && words.Length > 0 && BenchName().IsMatch(words[0]) && !benchmarks.Contains(words[0]))
            {
                wrong.Add($"{m}: there is no benchmark '{words[0]}' ({string.Join(", ", benchmarks)})");
            }

            var known = CocoonScript.Flags(line);
            wrong.AddRange(CocoonScript.Flags(m.Rest).Where(f => !known.Contains(f))
                .Select(f => $"{m}: './cocoon {m.Command}' takes no {f} (usage: ./cocoon {m.Command}{line.TrimEnd()})"));
        }

        Assert.True(wrong.Count == 0, string.Join('\n', wrong));
    }

    [Fact]
    public void Every_variable_a_user_is_told_to_set_is_one_something_reads()
    {
        // Read by the programs (CocoonEnvironment), by the script itself, or by its name as a C# string (the benchmarks' knobs).
        var script = CocoonScript.Text;
        var readByName = Directory.EnumerateFiles(SharedFiles.RepoRoot, "*.*", SearchOption.AllDirectories)
            .Where(f => Path.GetExtension(f) is ".cs" or ".mjs" or ".ts" && !f.Contains("/obj/", StringComparison.Ordinal)
                && !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("node_modules", StringComparison.Ordinal))
            .SelectMany(f => ReadByName().Matches(File.ReadAllText(f)).Select(m => m.Value))
            .ToHashSet(StringComparer.Ordinal);
        var unread = PrintedCommands.Variables()
            .Where(v => !CocoonEnvironment.Variables.ContainsKey(v.Name) && !script.Contains(v.Name, StringComparison.Ordinal) && !readByName.Contains(v.Name))
            .Select(v => $"{v.Where}: {v.Name} is read by nothing (not in CocoonEnvironment.Variables, the script, a C# string of its own or process.env)")
            .ToList();
        Assert.True(unread.Count == 0, string.Join('\n', unread));
    }

    [Fact]
    public void The_usage_lists_every_command_the_script_runs_and_the_benchmarks_that_exist()
    {
        var commands = CocoonScript.Commands();
        var usage = CocoonScript.Usage();
        Assert.Equal(commands.Order(StringComparer.Ordinal), usage.Keys.Order(StringComparer.Ordinal));

        // The benchmark names in the script's usage and README's table are the benchmarks Cocoon.Bench runs.
        var benchmarks = Benchmarks();
        var listed = BenchList().Match(usage["bench"]);
        Assert.True(listed.Success, "the bench usage line lists no benchmarks: ./cocoon bench [NAME...]   ...: a, b, c (...)");
        Assert.Equal(benchmarks, listed.Groups[1].Value.Split(", ").Order(StringComparer.Ordinal));
        var readme = File.ReadAllText(Path.Combine(SharedFiles.RepoRoot, "README.md"));
        var table = ReadmeBenchList().Match(readme);
        Assert.True(table.Success, "README's command table has no `./cocoon bench [a\\|b]` row");
        Assert.Equal(benchmarks, table.Groups[1].Value.Split("\\|").Order(StringComparer.Ordinal));

        // README's quick start is still the two commands.
        Assert.Contains("```sh\n./cocoon up      # run Cocoon locally\n./cocoon test    # run every test\n```", readme, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_repository_path_the_readme_names_exists()
    {
        // `Cocoon.Bot/Dispatch/`, `tests/…/X.cs`, `docs/…`, `.ci/run`, `../shared/…` (a trailing :line or glob is cut).
        var readme = File.ReadAllText(Path.Combine(SharedFiles.RepoRoot, "README.md"));
        var missing = ReadmePath().Matches(readme)
            .Select(m => m.Groups[1].Value.Split(':')[0].TrimEnd('.', ','))
            .Where(p => !p.Contains('*', StringComparison.Ordinal) && !p.Contains('<', StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal)
            .Where(p =>
            {
                var full = p.StartsWith("../shared/", StringComparison.Ordinal)
                    ? Path.Combine(SharedFiles.SharedDir, p["../shared/".Length..])
                    : Path.Combine(SharedFiles.RepoRoot, p);
                return !File.Exists(full) && !Directory.Exists(full);
            })
            .ToList();
        Assert.True(missing.Count == 0, "README.md names paths that do not exist: " + string.Join(", ", missing));
    }

    [Fact]
    public void Each_command_prints_its_usage_for_help_at_once_and_bad_input_is_named_before_any_install()
    {
        using var data = new TempDir("cocoon-script-help");
        var usage = CocoonScript.Usage();
        foreach (var command in CocoonScript.Commands())
        {
            foreach (var help in new[] { "--help", "-h" })
            {
                var (code, stdout, stderr) = CocoonScript.Run(data.Path, command, help);
                Assert.True(code == 0, $"./cocoon {command} {help} exited {code}: {stdout}{stderr}");
                Assert.Contains($"./cocoon {command}{usage[command]}", stdout, StringComparison.Ordinal);
                Assert.True(stderr.Length == 0, $"./cocoon {command} {help} did work before printing its usage: {stderr}");
            }
        }

        var general = CocoonScript.Run(data.Path, "--help");
        Assert.Equal(0, general.ExitCode);
        foreach (var command in CocoonScript.Commands())
        {
            Assert.Contains($"./cocoon {command}", general.Stdout, StringComparison.Ordinal);
        }

        // Each mistake is named with the fix, exit 2, before anything is installed or built (stderr holds only the message).
        foreach (var (args, message) in new (string[], string)[]
        {
            (["nosuch"], "unknown command 'nosuch'"),
            (["bench", "nosuch"], "unknown benchmark 'nosuch'"),
            (["worker", "--no-such-flag"], "./cocoon worker takes no --no-such-flag"),
            (["up", "--worker", "3"], "./cocoon up takes no --worker"),
            (["generate", "--prompt"], "--prompt needs a value"),
            (["ask", "--max-tokens", "many", "Hi"], "--max-tokens needs a whole number"),
            (["ledger"], "./cocoon ledger check"),
            (["provider", "keys"], "./cocoon provider keygen"),
        })
        {
            var (code, stdout, stderr) = CocoonScript.Run(data.Path, args);
            Assert.True(code == 2, $"./cocoon {string.Join(' ', args)} exited {code}: {stdout}{stderr}");
            Assert.Contains(message, stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("installing", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_programs_the_script_runs_take_every_flag_of_its_usage()
    {
        using var data = new TempDir("cocoon-script-flags");
        var usage = CocoonScript.Usage();
        var checkedCommands = new List<string>();

        // up: the flags the user adds go to Cocoon.Local up's switch mappings (the script adds --gateway, --worker, --chain).
        checkedCommands.Add("up");
        Assert.All(CocoonScript.Flags(usage["up"]), f => Assert.Contains(f, UpSettings.SwitchMappings.Keys));

        // chaos: Cocoon.Local chaos parses each flag with a value of its placeholder.
        checkedCommands.Add("chaos");
        var program = Path.Combine(data.Path, "program");
        File.WriteAllText(program, string.Empty);
        ChaosSettings.Parse(["--gateway", program, "--worker", program, .. Arguments(usage["chaos"], data.Path)]);

        // worker: the script's own case arms take the flags (the rest goes to Cocoon.Worker join|run as configuration).
        checkedCommands.Add("worker");
        var script = CocoonScript.Text;
        var body = script[script.IndexOf("cmd_worker() {", StringComparison.Ordinal)..];
        Assert.All(CocoonScript.Flags(usage["worker"]), f => Assert.Contains($"      {f})", body, StringComparison.Ordinal));

        // test: dotnet test's own options; bench: names (checked against Cocoon.Bench above).
        checkedCommands.AddRange(["test", "bench"]);

        // The rest run their program with every flag, where it stops at once: a gateway that is not there, an empty ledger.
        var closed = "http://127.0.0.1:1";
        var environment = new Dictionary<string, string?> { ["COCOON_DATA"] = data.Path, ["COCOON_HTTP"] = closed, ["COCOON_API_KEY"] = "local-test-key-0123456789" };
        foreach (var (command, program2, prefix, expectedCode, expected) in new (string, string, string[], int, string)[]
        {
            ("ask", "Cocoon.Local", ["ask"], 1, "The gateway is not answering"),
            ("verify", "Cocoon.Local", ["verify"], 1, "could not fetch the receipt"),
            ("provider", "Cocoon.Worker", ["provider"], 0, "/provider key "),
            ("ledger", "Cocoon.Bot", ["ledger"], 0, "ledger check: no ledger database"),
            ("generate", "Cocoon.Worker", ["generate"], 0, "generation"),
        })
        {
            checkedCommands.Add(command);
            string[] args = [.. prefix, .. Arguments(usage[command], data.Path)];
            var (code, output) = RunProgram(Built(program2), args, environment);
            Assert.True(code == expectedCode && output.Contains(expected, StringComparison.Ordinal),
                $"{program2} {string.Join(' ', args)} (./cocoon {command}{usage[command]}) exited {code}, expected {expectedCode} and '{expected}':\n{output}");
        }

        Assert.Equal(CocoonScript.Commands().Order(StringComparer.Ordinal), checkedCommands.Order(StringComparer.Ordinal));
    }

    /// <summary>A usage line made into arguments: its required words, every flag, and a value for each placeholder.</summary>
    private static List<string> Arguments(string usage, string dataDir)
    {
        var args = new List<string>();
        var words = usage.Split("   ", 2)[0].Replace("[", " ", StringComparison.Ordinal).Replace("]", " ", StringComparison.Ordinal)
            .Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < words.Length; i++)
        {
            var w = words[i].Trim('"');
            if (w.StartsWith("--", StringComparison.Ordinal) || Regex.IsMatch(w, "^[a-z]+$"))
            {
                args.Add(w);
            }
            else if (Regex.IsMatch(w, "^[A-Z]+$"))
            {
                args.Add(Sample(args.LastOrDefault(), w, dataDir));
            }
            else if (Regex.IsMatch(w, @"^[a-z]+(\|[a-z]+)+$") && args.LastOrDefault()?.StartsWith("--", StringComparison.Ordinal) == true)
            {
                args.Add(w.Split('|')[0]); // a flag's value out of a list (--warmup true|false)
            }
        }

        return args;
    }

    private static string Sample(string? flag, string placeholder, string dataDir) => (flag, placeholder) switch
    {
        ("--model", "PATH") => SharedFiles.SmallModel,
        ("--model", _) => "stories260K",
        ("--max-tokens", _) => "2",
        ("--temperature", _) => "0",
        ("--threads", _) => "1",
        ("--timeout", _) => "5",
        (_, "URL") => "http://127.0.0.1:1",
        (_, "FILE" or "PATH") => Path.Combine(dataDir, "sample-" + flag?.TrimStart('-')),
        (_, "N" or "M" or "C" or "S") => "1",
        (_, "TEXT") => "Hi",
        (_, "ID") => "no-such-receipt",
        _ => throw new InvalidOperationException($"no sample value for {flag} {placeholder}: add one to {nameof(Sample)}"),
    };

    private static (int Code, string Output) RunProgram(string path, IEnumerable<string> args, IDictionary<string, string?> environment)
    {
        var psi = new ProcessStartInfo(path) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = SharedFiles.RepoRoot };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }

        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.GetAwaiter().GetResult());
    }

    /// <summary>The benchmarks Cocoon.Bench runs (the keys of its table in Program.cs).</summary>
    private static List<string> Benchmarks()
    {
        var program = File.ReadAllText(Path.Combine(SharedFiles.RepoRoot, "tests", "Cocoon.Bench", "Program.cs"));
        return [.. BenchEntry().Matches(program).Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal)];
    }

    [GeneratedRegex(@"^\s*\[""([a-z0-9-]+)""\] = ", RegexOptions.Multiline)]
    private static partial Regex BenchEntry();

    [GeneratedRegex(@": ([a-z0-9-]+(?:, [a-z0-9-]+)+) \(")]
    private static partial Regex BenchList();

    [GeneratedRegex(@"`((?:Cocoon\.[A-Za-z]+|tests|docs|\.ci|\.\./shared)/[^`\s]*)`")]
    private static partial Regex ReadmePath();

    [GeneratedRegex(@"`\./cocoon bench \[([a-z0-9\\|-]+)\]`")]
    private static partial Regex ReadmeBenchList();

    [GeneratedRegex("^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")]
    private static partial Regex BenchName();

    // A variable's name as a whole string literal (what GetEnvironmentVariable and the benchmarks' Setting(...) are
    // given), or read from process.env by the Node programs.
    [GeneratedRegex(@"(?<="")(?:COCOON|TELEGRAM)_[A-Z0-9_]+(?="")|(?<=process\.env\.)(?:COCOON|TELEGRAM)_[A-Z0-9_]+\b")]
    private static partial Regex ReadByName();
}

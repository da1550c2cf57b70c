using System.Text.RegularExpressions;
using Cocoon.Testing;

namespace Cocoon.Local.Tests.Cli;

/// <summary>
/// Every <c>./cocoon …</c> command a user or a provider is told to run: in the product's own strings (bot replies,
/// refusals, error messages, the <c>up</c> banner, log messages; C# outside comments), the Mini App's front end and
/// README.md. Each comes with where it was found, so a failure names the file and line.
/// </summary>
internal static partial class PrintedCommands
{
    /// <summary>The product's source folders whose strings reach users (not tests, not benchmarks).</summary>
    private static readonly string[] Products = ["Cocoon.Bot", "Cocoon.Engine", "Cocoon.Local", "Cocoon.Ledger", "Cocoon.Network", "Cocoon.Worker"];

    /// <summary>"the script, re-run" in prose ("delete the folder and run ./cocoon again"), not a command.</summary>
    private static readonly string[] Prose = ["again"];

    public sealed record Mention(string Where, string Command, string Rest, string Line)
    {
        public override string ToString() => $"{Where}: ./cocoon {Command}{Rest}   (in: {Line.Trim()})";
    }

    /// <summary>Every user-visible line of the product, README.md included, with where it is.</summary>
    public static IEnumerable<(string Where, string Line)> UserVisibleLines()
    {
        foreach (var project in Products)
        {
            var root = Path.Combine(SharedFiles.RepoRoot, project);
            foreach (var file in Directory.EnumerateFiles(root, "*.*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var relative = Path.GetRelativePath(SharedFiles.RepoRoot, file);
                if (relative.Contains("/bin/", StringComparison.Ordinal) || relative.Contains("/obj/", StringComparison.Ordinal)
                    || relative.Contains("node_modules", StringComparison.Ordinal) || relative.Contains("/dist/", StringComparison.Ordinal))
                {
                    continue;
                }

                var code = Path.GetExtension(file) is ".cs" or ".ts" or ".mjs";
                if (!code && Path.GetExtension(file) is not (".html" or ".json"))
                {
                    continue;
                }

                var lines = File.ReadAllLines(file);
                for (var i = 0; i < lines.Length; i++)
                {
                    var trimmed = lines[i].TrimStart();
                    if (code && (trimmed.StartsWith("//", StringComparison.Ordinal) || trimmed.StartsWith('*') || trimmed.StartsWith("/*", StringComparison.Ordinal)))
                    {
                        continue; // a comment: read by engineers, not printed
                    }

                    yield return ($"{relative}:{i + 1}", lines[i]);
                }
            }
        }

        var readme = File.ReadAllLines(Path.Combine(SharedFiles.RepoRoot, "README.md"));
        for (var i = 0; i < readme.Length; i++)
        {
            yield return ($"README.md:{i + 1}", readme[i]);
        }
    }

    /// <summary>Every <c>./cocoon WORD…</c> in those lines: the command word and the rest of its command (up to the end of the string, code span or clause).</summary>
    public static IReadOnlyList<Mention> All() =>
        [.. UserVisibleLines().SelectMany(l => Command().Matches(l.Line)
            .Where(m => !Prose.Contains(m.Groups[1].Value))
            .Select(m => new Mention(l.Where, m.Groups[1].Value, m.Groups[2].Value, l.Line)))];

    /// <summary>The environment variables the same lines name (COCOON_*, TELEGRAM_*), with where.</summary>
    public static IReadOnlyList<(string Where, string Name)> Variables() =>
        [.. UserVisibleLines().SelectMany(l => Variable().Matches(l.Line).Select(m => (l.Where, m.Value)))];

    // A command ends where its string, code span, parenthesis, sentence or line does; \ ends it too (\n in a C# string,
    // \| in a Markdown table).
    [GeneratedRegex(@"\./cocoon ([a-z][a-z-]*)([^""`\\()\n;.,:]*)")]
    private static partial Regex Command();

    [GeneratedRegex(@"\b(?:COCOON|TELEGRAM)_[A-Z][A-Z0-9_]*[A-Z0-9]\b")]
    private static partial Regex Variable();
}

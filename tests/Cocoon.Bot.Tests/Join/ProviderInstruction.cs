using System.Text.RegularExpressions;

namespace Cocoon.Bot.Tests.Join;

/// <summary>
/// The start command the bot prints after /provider register: VAR=value … ./cocoon worker [--flag value …] (the one line
/// that starts a worker; other ./cocoon lines, such as provider keygen, are read with <see cref="Lines"/>).
/// </summary>
internal static partial class ProviderInstruction
{
    public static (string Command, IReadOnlyDictionary<string, string> Variables) Parse(string message)
    {
        var line = message.Split('\n').Single(l => l.Contains("./cocoon worker", StringComparison.Ordinal) && Assignment().IsMatch(l.Split(' ')[0]));
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var i = 0;
        for (; i < words.Length && Assignment().Match(words[i]) is { Success: true } m; i++)
        {
            variables[m.Groups[1].Value] = m.Groups[2].Value;
        }

        return (words[i] + " " + words[i + 1], variables);
    }

    /// <summary>Every line of the message that runs ./cocoon.</summary>
    public static IReadOnlyList<string> Lines(string message) =>
        [.. message.Split('\n').Where(l => l.Contains("./cocoon ", StringComparison.Ordinal))];

    [GeneratedRegex("^([A-Z_][A-Z0-9_]*)=(.+)$")]
    private static partial Regex Assignment();
}

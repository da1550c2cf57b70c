namespace Cocoon.Bot.Telegram.Chats;

/// <summary>Cuts text into Telegram messages (at most 4,096 characters) at paragraph, then line, then word boundaries.</summary>
public static class MessageSplitter
{
    public const int MaxLength = 4096;

    public static IReadOnlyList<string> Split(string text, int max = MaxLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = new List<string>();
        var rest = text;
        while (rest.Length > max)
        {
            var (head, next) = CutFirst(rest, max);
            if (head.Length > 0)
            {
                parts.Add(head);
            }

            rest = rest[next..];
        }

        if (rest.Trim().Length > 0)
        {
            parts.Add(rest.TrimEnd());
        }

        return parts;
    }

    /// <summary>The first message of a too-long text and where the rest starts (boundary whitespace is dropped).</summary>
    public static (string Head, int RestStart) CutFirst(string text, int max = MaxLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length <= max)
        {
            return (text, text.Length);
        }

        var window = text.AsSpan(0, max);
        var cut = Boundary(window, "\n\n");
        if (cut <= 0)
        {
            cut = Boundary(window, "\n");
        }

        if (cut <= 0)
        {
            cut = Boundary(window, " ");
        }

        if (cut <= 0)
        {
            cut = char.IsHighSurrogate(text[max - 1]) ? max - 1 : max;
        }

        var restStart = cut;
        while (restStart < text.Length && char.IsWhiteSpace(text[restStart]))
        {
            restStart++;
        }

        return (text[..cut].TrimEnd(), restStart);
    }

    // Only boundaries in the second half count, so a message is never cut down to a few words.
    private static int Boundary(ReadOnlySpan<char> window, string separator)
    {
        var i = window.LastIndexOf(separator.AsSpan(), StringComparison.Ordinal);
        return i >= window.Length / 2 ? i : -1;
    }
}

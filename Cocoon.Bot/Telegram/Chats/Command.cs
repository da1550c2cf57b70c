namespace Cocoon.Bot.Telegram.Chats;

/// <summary>A parsed "/name@bot args" message.</summary>
public sealed record Command(string Name, string Args, string? Addressee)
{
    public static Command? Parse(string? text)
    {
        if (text is not { Length: > 1 } || text[0] != '/')
        {
            return null;
        }

        var space = text.IndexOfAny([' ', '\n']);
        var head = space < 0 ? text[1..] : text[1..space];
        var args = space < 0 ? string.Empty : text[(space + 1)..].Trim();
        var at = head.IndexOf('@', StringComparison.Ordinal);
        return at < 0
            ? new Command(head.ToLowerInvariant(), args, null)
            : new Command(head[..at].ToLowerInvariant(), args, head[(at + 1)..]);
    }

    /// <summary>In a group "/help@otherbot" is for another bot.</summary>
    public bool IsFor(string? botUsername) =>
        Addressee is null || string.Equals(Addressee, botUsername, StringComparison.OrdinalIgnoreCase);
}

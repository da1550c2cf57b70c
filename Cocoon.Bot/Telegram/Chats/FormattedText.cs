using System.Text;
using global::Telegram.Bot.Types;
using global::Telegram.Bot.Types.Enums;

namespace Cocoon.Bot.Telegram.Chats;

/// <summary>Text with Telegram message entities (offsets and lengths in UTF-16 code units, as Telegram counts).</summary>
public sealed record FormattedText(string Text, IReadOnlyList<MessageEntity> Entities);

/// <summary>
/// Turns the Markdown a model writes into text plus entities, so nothing the model writes can make Telegram refuse
/// the message for bad markup (entities are positions, not syntax to parse). Fenced code and tables become pre
/// blocks, headings bold, "- " items bullets, &gt; quotes blockquotes; inline code, bold, italic, strikethrough and
/// links become their entities. A reasoning block (&lt;think&gt;…&lt;/think&gt;) becomes an expandable blockquote,
/// shown collapsed. The rendered text is never longer than the Markdown it came from (markers are only removed or
/// replaced one for one), so a Markdown segment cut to 4,096 characters renders within the limit too.
/// </summary>
public static class RichTextRenderer
{
    public const string ThinkOpen = "<think>";
    public const string ThinkClose = "</think>";

    public static FormattedText Render(string markdown)
    {
        ArgumentNullException.ThrowIfNull(markdown);
        var b = new Builder();
        var lines = markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var i = 0;
        while (i < lines.Length)
        {
            var line = lines[i];
            var trimmed = line.TrimStart();
            if (trimmed.StartsWith(ThinkOpen, StringComparison.Ordinal))
            {
                // Reasoning: everything up to </think> (or the end, while it is still being written), collapsed.
                var body = new StringBuilder(trimmed[ThinkOpen.Length..]);
                var closed = false;
                var j = i;
                while (true)
                {
                    var current = body.ToString();
                    var end = current.IndexOf(ThinkClose, StringComparison.Ordinal);
                    if (end >= 0)
                    {
                        var after = current[(end + ThinkClose.Length)..];
                        body.Length = end;
                        closed = true;
                        lines[j] = after; // what follows </think> on its line is ordinary text
                        i = after.Trim().Length > 0 ? j : j + 1;
                        break;
                    }

                    if (++j >= lines.Length)
                    {
                        i = j;
                        break;
                    }

                    body.Append('\n').Append(lines[j]);
                }

                var thought = body.ToString().Trim();
                if (thought.Length > 0)
                {
                    b.Block(thought, MessageEntityType.ExpandableBlockquote);
                }

                if (!closed)
                {
                    break;
                }

                continue;
            }

            if (trimmed.StartsWith("```", StringComparison.Ordinal))
            {
                var language = trimmed[3..].Trim();
                var code = new List<string>();
                i++;
                while (i < lines.Length && !lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal))
                {
                    code.Add(lines[i]);
                    i++;
                }

                i++; // the closing fence (or past the end while the block is still being written)
                b.Block(string.Join('\n', code), MessageEntityType.Pre, language.Length > 0 && language.All(c => char.IsLetterOrDigit(c) || c is '+' or '-' or '#' or '_') ? language : null);
                continue;
            }

            if (trimmed.StartsWith('|'))
            {
                // A table: monospace keeps its columns aligned (Telegram has no table entity).
                var rows = new List<string>();
                while (i < lines.Length && lines[i].TrimStart().StartsWith('|'))
                {
                    rows.Add(lines[i].Trim());
                    i++;
                }

                b.Block(string.Join('\n', rows), MessageEntityType.Pre);
                continue;
            }

            var hashes = trimmed.Length - trimmed.TrimStart('#').Length;
            if (hashes is >= 1 and <= 6 && trimmed.Length > hashes && trimmed[hashes] == ' ')
            {
                var start = b.Length;
                Inline(b, trimmed[(hashes + 1)..].Trim());
                b.Add(MessageEntityType.Bold, start);
            }
            else if (trimmed.StartsWith("> ", StringComparison.Ordinal) || trimmed == ">")
            {
                var start = b.Length;
                Inline(b, trimmed.Length > 2 ? trimmed[2..] : string.Empty);
                while (i + 1 < lines.Length && lines[i + 1].TrimStart() is var next && (next.StartsWith("> ", StringComparison.Ordinal) || next == ">"))
                {
                    b.Append("\n");
                    Inline(b, next.Length > 2 ? next[2..] : string.Empty);
                    i++;
                }

                b.Add(MessageEntityType.Blockquote, start);
            }
            else
            {
                var indent = line.Length - trimmed.Length;
                if (trimmed.Length > 1 && trimmed[0] is '-' or '*' or '+' && trimmed[1] == ' ')
                {
                    b.Append(line[..indent]).Append("• ");
                    Inline(b, trimmed[2..]);
                }
                else
                {
                    Inline(b, line);
                }
            }

            b.EndLine();
            i++;
        }

        return b.Build();
    }

    /// <summary>Inline Markdown on one line: `code`, **bold**, __bold__, *italic*, _italic_, ~~strike~~, [text](url).</summary>
    private static void Inline(Builder b, string s)
    {
        var i = 0;
        var plainFrom = 0;
        void Flush(int upTo)
        {
            if (upTo > plainFrom)
            {
                b.Append(s[plainFrom..upTo]);
            }
        }

        while (i < s.Length)
        {
            var c = s[i];
            if (c == '`')
            {
                var end = s.IndexOf('`', i + 1);
                if (end > i + 1)
                {
                    Flush(i);
                    var start = b.Length;
                    b.Append(s[(i + 1)..end]);
                    b.Add(MessageEntityType.Code, start);
                    i = plainFrom = end + 1;
                    continue;
                }
            }
            else if ((c == '*' || c == '_' || c == '~') && i + 1 < s.Length && s[i + 1] == c)
            {
                var marker = new string(c, 2);
                var end = s.IndexOf(marker, i + 2, StringComparison.Ordinal);
                if (end > i + 2 && !char.IsWhiteSpace(s[i + 2]))
                {
                    Flush(i);
                    var start = b.Length;
                    Inline(b, s[(i + 2)..end]);
                    b.Add(c == '~' ? MessageEntityType.Strikethrough : MessageEntityType.Bold, start);
                    i = plainFrom = end + 2;
                    continue;
                }
            }
            else if ((c == '*' || c == '_') && i + 1 < s.Length && !char.IsWhiteSpace(s[i + 1])
                && (c == '*' || i == 0 || !char.IsLetterOrDigit(s[i - 1])))
            {
                var end = s.IndexOf(c, i + 1);
                if (end > i + 1 && !char.IsWhiteSpace(s[end - 1]) && (c == '*' || end + 1 >= s.Length || !char.IsLetterOrDigit(s[end + 1])))
                {
                    Flush(i);
                    var start = b.Length;
                    Inline(b, s[(i + 1)..end]);
                    b.Add(MessageEntityType.Italic, start);
                    i = plainFrom = end + 1;
                    continue;
                }
            }
            else if (c == '[')
            {
                var close = s.IndexOf("](", i + 1, StringComparison.Ordinal);
                var paren = close > i ? s.IndexOf(')', close + 2) : -1;
                if (close > i + 1 && paren > close + 2)
                {
                    var url = s[(close + 2)..paren];
                    if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
                    {
                        Flush(i);
                        var start = b.Length;
                        Inline(b, s[(i + 1)..close]);
                        b.Add(MessageEntityType.TextLink, start, url: url);
                        i = plainFrom = paren + 1;
                        continue;
                    }
                }
            }

            i++;
        }

        Flush(s.Length);
    }

    private sealed class Builder
    {
        private readonly StringBuilder _text = new();
        private readonly List<MessageEntity> _entities = [];

        public int Length => _text.Length;

        public Builder Append(string s)
        {
            _text.Append(s);
            return this;
        }

        public void EndLine() => _text.Append('\n');

        public void Block(string content, MessageEntityType type, string? language = null)
        {
            var start = _text.Length;
            _text.Append(content);
            Add(type, start, language);
            _text.Append('\n');
        }

        public void Add(MessageEntityType type, int start, string? language = null, string? url = null)
        {
            // Telegram refuses empty entities; whitespace at the edges is left outside, as clients do.
            var end = _text.Length;
            while (start < end && char.IsWhiteSpace(_text[start]))
            {
                start++;
            }

            while (end > start && char.IsWhiteSpace(_text[end - 1]))
            {
                end--;
            }

            if (end > start)
            {
                _entities.Add(new MessageEntity { Type = type, Offset = start, Length = end - start, Language = language, Url = url });
            }
        }

        public FormattedText Build()
        {
            var text = _text.ToString().TrimEnd();
            var entities = _entities
                .Where(e => e.Offset < text.Length)
                .Select(e => e.Offset + e.Length > text.Length ? new MessageEntity { Type = e.Type, Offset = e.Offset, Length = text.Length - e.Offset, Language = e.Language, Url = e.Url } : e)
                .OrderBy(e => e.Offset).ThenByDescending(e => e.Length)
                .ToList();
            return new FormattedText(text, entities);
        }
    }
}

/// <summary>
/// Cuts streamed Markdown into messages of at most 4,096 characters without breaking a code block or a reasoning
/// block in two: a cut inside one closes it at the end of the first message and opens it again at the start of the
/// next (the carry), so both halves render as the same kind of block.
/// </summary>
public static class RichCut
{
    public static (string Head, int RestStart, string Carry) CutFirst(string pending, int max = MessageSplitter.MaxLength)
    {
        ArgumentNullException.ThrowIfNull(pending);

        // Room for the closing marker added below, so the head stays within the limit.
        var (head, restStart) = MessageSplitter.CutFirst(pending, max - 16);
        var open = OpenBlock(head);
        return open switch
        {
            null => (head, restStart, string.Empty),
            { Fence: true } o => (head + "\n```", restStart, "```" + o.Language + "\n"),
            _ => (head + RichTextRenderer.ThinkClose, restStart, RichTextRenderer.ThinkOpen),
        };
    }

    private sealed record Open(bool Fence, string Language);

    /// <summary>The block still open at the end of this Markdown, if any.</summary>
    private static Open? OpenBlock(string markdown)
    {
        Open? open = null;
        foreach (var raw in markdown.Split('\n'))
        {
            var line = raw.TrimStart();
            if (open is { Fence: true })
            {
                if (line.StartsWith("```", StringComparison.Ordinal))
                {
                    open = null;
                }

                continue;
            }

            if (open is { Fence: false })
            {
                if (line.Contains(RichTextRenderer.ThinkClose, StringComparison.Ordinal))
                {
                    open = null;
                }

                continue;
            }

            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                open = new Open(true, line[3..].Trim());
            }
            else if (line.StartsWith(RichTextRenderer.ThinkOpen, StringComparison.Ordinal) && !line.Contains(RichTextRenderer.ThinkClose, StringComparison.Ordinal))
            {
                open = new Open(false, string.Empty);
            }
        }

        return open;
    }
}

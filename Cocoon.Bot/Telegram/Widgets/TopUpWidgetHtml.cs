using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using Cocoon.Ledger.Ton;

namespace Cocoon.Bot.Telegram.Widgets;

/// <summary>What the /topup widget shows: the user's wallet, the deposit address and comment, the transfer request.</summary>
public sealed record TopUpWidgetView(
    string? WalletAddress,
    string? WalletBalanceNanotons,
    string DepositAddress,
    string Comment,
    long AmountNanotons,
    string TransferLink,
    TonConnectTransaction Request);

/// <summary>
/// The /topup widget's HTML. core.telegram.org/bots/widgets.md: "one self-contained HTML document with inline CSS and
/// JavaScript, at most 32 KB of HTML and 4 KB after compression"; it runs "in a sandbox with no network access at
/// all", and its code "is set when the widget is sent and never changes". So everything the widget shows is
/// written into the document when /topup is answered (one document per user and invoice), nothing is fetched, and
/// the size is checked here against sendWidget's rule (core.telegram.org/bots/api/methods/sendwidget.md): 1-32768
/// bytes, at most 4096 bytes after zlib at the maximum compression level.
/// The document carries no script of its own. The widget's JavaScript API (reading the chat state, sending a query,
/// asking the user's TON wallet to sign data or send a transaction) is described further down widgets.md, and no
/// stored copy of that part could be found (searched 2026-11-30: the page's stored copies end after its
/// introduction; no Telegram client's widget runtime, no binding repository with Bot API 10.4 and no code using the
/// API was in the index; the only API text seen is a binding's release-note example,
/// TelegramWidget.request("tap").then(a => a.result), which says nothing of wallets). Writing a wallet call from
/// that would be a guess, so the transfer is offered as the ton:// link and as the TON Connect request (a JSON
/// block, the same request the Mini App hands to TON Connect), and the bot answers the widget's queries with that
/// request for the day a script can send them.
/// </summary>
public static class TopUpWidgetHtml
{
    public const int MaxBytes = 32_768;

    public const int MaxCompressedBytes = 4_096;

    public const string RequestElementId = "ton-transfer-request";

    public static string Render(TopUpWidgetView view)
    {
        ArgumentNullException.ThrowIfNull(view);
        var ton = Ton(view.AmountNanotons);
        var wallet = view.WalletAddress is { Length: > 0 } address
            ? $"<div class=\"card\"><div class=\"l\">Your wallet</div><div class=\"a\">{E(address)}</div>{(view.WalletBalanceNanotons is { } b && long.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? $"<div class=\"b\">{E(Ton(n))} TON</div>" : string.Empty)}</div>"
            : "<div class=\"card\"><div class=\"l\">Your wallet</div><div class=\"a\">No wallet linked yet: any TON wallet can pay.</div></div>";

        // The request is JSON in a data block (not run): the default encoder escapes <, > and &, so it cannot end the element.
        var request = JsonSerializer.Serialize(view.Request);
        var html = new StringBuilder()
            .Append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">")
            .Append("<style>body{margin:0;font:15px/1.35 -apple-system,system-ui,sans-serif;padding:12px}")
            .Append(".card{border-radius:12px;padding:10px 12px;background:rgba(0,136,204,.12);margin-bottom:10px}")
            .Append(".l{font-size:12px;opacity:.7}.a{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}.b{font-weight:600}")
            .Append(".pay{display:block;text-align:center;border-radius:10px;padding:10px;background:#0088cc;color:#fff;text-decoration:none;font-weight:600}")
            .Append("</style></head><body>")
            .Append(wallet)
            .Append("<div class=\"card\"><div class=\"l\">Top up ").Append(E(ton)).Append(" TON to</div><div class=\"a\">").Append(E(view.DepositAddress)).Append("</div>")
            .Append("<div class=\"l\">with the comment</div><div class=\"a\">").Append(E(view.Comment)).Append("</div></div>")
            .Append("<a class=\"pay\" href=\"").Append(E(view.TransferLink)).Append("\">Pay ").Append(E(ton)).Append(" TON</a>")
            .Append("<script type=\"application/json\" id=\"").Append(RequestElementId).Append("\">").Append(request).Append("</script>")
            .Append("</body></html>")
            .ToString();
        Check(html);
        return html;
    }

    /// <summary>Throws when the document breaks sendWidget's size rule (it would be refused).</summary>
    public static void Check(string html)
    {
        ArgumentNullException.ThrowIfNull(html);
        var bytes = Encoding.UTF8.GetByteCount(html);
        if (bytes is < 1 or > MaxBytes)
        {
            throw new InvalidOperationException($"The widget is {bytes} bytes; sendWidget takes 1-{MaxBytes}.");
        }

        var compressed = CompressedSize(html);
        if (compressed > MaxCompressedBytes)
        {
            throw new InvalidOperationException($"The widget is {compressed} bytes after zlib; sendWidget takes at most {MaxCompressedBytes}.");
        }
    }

    /// <summary>The size after zlib "with the maximum compression level", as sendWidget measures it.</summary>
    public static int CompressedSize(string html)
    {
        ArgumentNullException.ThrowIfNull(html);
        using var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            zlib.Write(Encoding.UTF8.GetBytes(html));
        }

        return (int)output.Length;
    }

    private static string Ton(long nanotons) => (nanotons / 1e9m).ToString("0.##", CultureInfo.InvariantCulture);

    private static string E(string text) => WebUtility.HtmlEncode(text);
}

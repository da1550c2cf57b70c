using System.ComponentModel.DataAnnotations;

namespace Cocoon.Bot.MiniApp;

/// <summary>The "MiniApp" configuration section. The bot token defaults to Telegram:BotToken (TELEGRAM_BOT_TOKEN).</summary>
public sealed class MiniAppOptions : IValidatableObject
{
    public const string Section = "MiniApp";

    /// <summary>The bot token init data is signed with; empty means Telegram:BotToken (TELEGRAM_BOT_TOKEN). A secret.</summary>
    public string? BotToken { get; set; }

    /// <summary>How long init data stays usable after Telegram issued it (replay window).</summary>
    [Range(typeof(TimeSpan), "00:01:00", "7.00:00:00", ErrorMessage = "MiniApp:InitDataMaxAge must be between 1 minute and 7 days (e.g. MiniApp__InitDataMaxAge=01:00:00).")]
    public TimeSpan InitDataMaxAge { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The smallest TON top-up, in nanotons (wallet fees make tiny top-ups pointless).</summary>
    [Range(1, long.MaxValue, ErrorMessage = "MiniApp:TopUpMinimum must be a positive number of nanotons.")]
    public long TopUpMinimum { get; set; } = 100_000_000;

    /// <summary>The largest TON top-up per invoice, in nanotons.</summary>
    [Range(1, long.MaxValue, ErrorMessage = "MiniApp:TopUpMaximum must be a positive number of nanotons.")]
    public long TopUpMaximum { get; set; } = 1_000_000_000_000;

    /// <summary>How long the wallet may take to send the transaction (the TON Connect request's validUntil).</summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00", ErrorMessage = "MiniApp:TopUpValidity must be between 1 minute and 1 day.")]
    public TimeSpan TopUpValidity { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>The most tokens one Mini App chat answer may generate (the hold is sized for it).</summary>
    [Range(16, 8192, ErrorMessage = "MiniApp:MaxAnswerTokens must be between 16 and 8192 (e.g. MiniApp__MaxAnswerTokens=512).")]
    public int MaxAnswerTokens { get; set; } = 512;

    /// <summary>
    /// The public TON chain API (toncenter's v3 HTTP API) the page reads receipt anchors from, straight from the browser
    /// and not through the gateway: e.g. https://toncenter.com/ for mainnet. Empty: the page checks the receipt and
    /// its Merkle proof but says the chain read needs <c>./cocoon verify</c>. Never a URL with an API key in it: the
    /// page is public.
    /// </summary>
    public string? ChainApiUrl { get; set; }

    /// <summary>A folder holding the built front end (index.html, app.js); empty means the checkout's or the binary's own copy.</summary>
    public string? WebRoot { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (TopUpMinimum > TopUpMaximum)
        {
            yield return new ValidationResult("MiniApp:TopUpMinimum must not exceed MiniApp:TopUpMaximum.", [nameof(TopUpMinimum)]);
        }

        if (!string.IsNullOrWhiteSpace(ChainApiUrl)
            && (!Uri.TryCreate(ChainApiUrl, UriKind.Absolute, out var chain) || chain.Scheme is not ("http" or "https") || chain.Query.Length > 0 || chain.UserInfo.Length > 0))
        {
            yield return new ValidationResult($"MiniApp:ChainApiUrl '{ChainApiUrl}' must be an http(s) URL of a public toncenter-compatible API without a query or credentials (e.g. https://toncenter.com/).", [nameof(ChainApiUrl)]);
        }

        if (!string.IsNullOrWhiteSpace(WebRoot) && !File.Exists(Path.Combine(WebRoot, "index.html")))
        {
            yield return new ValidationResult($"MiniApp:WebRoot '{WebRoot}' holds no index.html: point it at the built Mini App (Cocoon.Bot/MiniApp/web/dist) or leave it empty.", [nameof(WebRoot)]);
        }
    }
}

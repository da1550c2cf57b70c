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

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (TopUpMinimum > TopUpMaximum)
        {
            yield return new ValidationResult("MiniApp:TopUpMinimum must not exceed MiniApp:TopUpMaximum.", [nameof(TopUpMinimum)]);
        }
    }
}

using System.Text.Json.Nodes;
using Cocoon.Bot.MiniApp;
using Cocoon.Bot.Tests.MiniApp;

namespace Cocoon.Bot.Tests.Fuzz;

/// <summary>
/// Seeded property tests of Telegram init data validation: any string either validates or throws
/// <see cref="InitDataException"/>, and a correctly signed one with any <c>user</c> JSON is accepted only with a positive
/// numeric id, which is then the id returned.
/// </summary>
public sealed class InitDataFuzzTests
{
    private const string Token = "7000001:AAFakeButWellFormedTokenForTests_0123456";
    private static readonly string[] UserFields = ["id", "first_name", "username", "language_code", "is_premium", "photo_url"];

    private static InitDataValidator Validator() => new(Token, TimeSpan.FromHours(1), TimeProvider.System);

    [Fact]
    public void A_mutated_init_data_string_validates_or_is_an_InitDataException()
    {
        var validator = Validator();
        var signed = InitDataSigning.SignUser(Token, """{"id":424242,"first_name":"Ann Lee","username":"ann_lee"}""");
        var accepted = 0;
        Cocoon.Testing.Fuzz.Run(seed: 1411, cases: 3000, fuzz =>
        {
            var text = fuzz.Show(fuzz.Next(10) switch
            {
                0 => fuzz.Text(80),
                1 => signed,
                _ => fuzz.MutateText(signed),
            });
            try
            {
                var data = validator.Validate(text);
                Assert.Equal(424242, data.User.Id); // only an unchanged (or equivalently encoded) string can pass the HMAC
                accepted++;
            }
            catch (InitDataException)
            {
            }
        });
        Assert.InRange(accepted, 1, int.MaxValue);
    }

    [Fact]
    public void Signed_init_data_with_any_user_json_is_accepted_only_with_a_positive_numeric_id()
    {
        var validator = Validator();
        var seed = new JsonObject { ["id"] = 424242, ["first_name"] = "Ann", ["username"] = "ann", ["language_code"] = "en" }.ToJsonString();
        Cocoon.Testing.Fuzz.Run(seed: 1412, cases: 2000, fuzz =>
        {
            var user = fuzz.Show(fuzz.Next(6) switch
            {
                0 => fuzz.JsonValue(3)?.ToJsonString() ?? "null",
                1 => Cocoon.Testing.Fuzz.WellFormed(fuzz.Text(40)),
                _ => fuzz.MutateJson(seed, UserFields),
            });
            var authDate = DateTimeOffset.UtcNow.AddSeconds(-fuzz.Pick<int>([0, 30, 3599, 3700, -30, -3600]));
            try
            {
                var data = validator.Validate(InitDataSigning.SignUser(Token, user, authDate));
                using var parsed = System.Text.Json.JsonDocument.Parse(user);
                Assert.True(parsed.RootElement.TryGetProperty("id", out var id) && id.ValueKind == System.Text.Json.JsonValueKind.Number, "accepted a user without a numeric id");
                Assert.True(data.User.Id > 0);
            }
            catch (InitDataException)
            {
            }
        });
    }
}

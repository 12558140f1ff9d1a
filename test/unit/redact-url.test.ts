import { UNPARSEABLE_URL, redactUrl } from "../../src/util/redact-url";

describe("redactUrl", () => {
  it("when a URL carries a SAS, user info or a fragment, only scheme, host and path are left", () => {
    expect(redactUrl("https://user:pw@acct.blob.core.windows.net/c/f?sv=1&sig=abc#frag")).toBe("https://acct.blob.core.windows.net/c/f");
    expect(redactUrl("http://127.0.0.1:10000/devstoreaccount1/c01/?sig=x")).toBe("http://127.0.0.1:10000/devstoreaccount1/c01");
    expect(redactUrl("https://acct.blob.core.windows.net/")).toBe("https://acct.blob.core.windows.net");
  });

  it("when the text is not a URL, none of it is shown, so no SAS or account key can leak", () => {
    const unparseable = [
      "acct.blob.core.windows.net/c?sv=1&sig=abc",
      "acct.blob.core.windows.net/c&sv=1&sig=abc",
      "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net",
      "https://[broken/c?sig=abc",
      "",
    ];
    for (const text of unparseable) expect(redactUrl(text)).toBe(UNPARSEABLE_URL);
  });
});

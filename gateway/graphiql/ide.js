// GraphiQL on the gateway's own /graphql (development setting only). The token: the one the
// review screen at / keeps in sessionStorage after sign-in, unless the headers editor sets one.
(function () {
  const token = sessionStorage.getItem("relais.token");
  const fetcher = GraphiQL.createFetcher({ url: "/graphql" });
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, {
    fetcher,
    defaultQuery: "{ me { agency } }\n",
    defaultHeaders: token ? JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2) : "",
    shouldPersistHeaders: false,
  }));
})();
